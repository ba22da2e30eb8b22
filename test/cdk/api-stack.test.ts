/**
 * The API stack's promises: one API Gateway route per entry of the route table plus `$default`, all
 * authorized with IAM by default and with JWT scopes per route when configured; managed policies that
 * grant exactly their routes (a reader no operator route); the function's grants; the exports; and a
 * nag-clean synth.
 */
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, routeKey, SCOPES } from '../../lambdas/api/routes.js';
import { API_EXPORTS } from '../../lib/api-stack.js';
import { logicalIdOf, roleStatements, type SynthResult, synthApp } from '../support/synth.js';

const D = { systemName: 'plugboard', stage: 'dev' };

let iam: SynthResult;
let template: Template;

beforeAll(() => {
  iam = synthApp({ stage: 'dev' });
  template = Template.fromStack(iam.stacks.api);
});

type Json = Record<string, unknown>;
const resourcesOf = (t: Template, type: string) => Object.values(t.findResources(type)) as Json[];
const propsOf = (r: Json) => r.Properties as Json;

/** The route ARN suffixes (`/<stage>/<METHOD>/<path>`) a managed policy grants. */
function grantedSuffixes(policyLogicalId: string): string[] {
  const policy = template.toJSON().Resources[policyLogicalId] as Json;
  const statements = (propsOf(policy).PolicyDocument as { Statement: { Resource: unknown }[] }).Statement;
  return statements.flatMap((s) =>
    (Array.isArray(s.Resource) ? s.Resource : [s.Resource]).map((r) => {
      const parts = (r as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
      return String(parts.at(-1));
    }),
  );
}

describe('ApiStack', () => {
  it('is its own stack, <system>-<stage>-api, synthesized without unacknowledged nag findings', () => {
    expect(iam.stacks.api.stackName).toBe('plugboard-dev-api');
    const errors = Annotations.fromStack(iam.stacks.api).findError('*', Match.anyValue());
    expect(errors).toEqual([]);
  });

  it('creates one route per entry of the route table, plus $default, each integrated with the function', () => {
    const keys = resourcesOf(template, 'AWS::ApiGatewayV2::Route').map((r) => propsOf(r).RouteKey);
    expect(keys.sort()).toEqual([...ROUTES.map(routeKey), '$default'].sort());
    template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
  });

  it('authorizes every route with IAM (SigV4) by default', () => {
    const types = resourcesOf(template, 'AWS::ApiGatewayV2::Route').map((r) => propsOf(r).AuthorizationType);
    expect(new Set(types)).toEqual(new Set(['AWS_IAM']));
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
  });

  it('uses a JWT authorizer with the scope of each route when issuer and audience are given', () => {
    const jwt = synthApp({
      stage: 'dev',
      context: { apiJwtIssuer: 'https://issuer.example.com', apiJwtAudience: 'plugboard,console' },
    });
    const t = Template.fromStack(jwt.stacks.api);
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://issuer.example.com', Audience: ['plugboard', 'console'] },
    });
    for (const route of ROUTES) {
      t.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey(route),
        AuthorizationType: 'JWT',
        AuthorizationScopes: [SCOPES[route.permission]],
      });
    }
  });

  it('refuses a JWT issuer without an audience, naming both context keys', () => {
    expect(() => synthApp({ stage: 'dev', context: { apiJwtIssuer: 'https://issuer.example.com' } })).toThrow(
      /apiJwtIssuer.*apiJwtAudience/,
    );
  });

  it('grants the reader only GET routes, the operator no start, the starter no operator route', () => {
    const reader = grantedSuffixes(logicalIdOf(iam.stacks.api.policies.read));
    const starter = grantedSuffixes(logicalIdOf(iam.stacks.api.policies.start));
    const operator = grantedSuffixes(logicalIdOf(iam.stacks.api.policies.operate));
    expect(reader.every((s) => s.startsWith('/$default/GET/'))).toBe(true);
    expect(reader).toContain('/$default/GET/workflows/*/runs/*');
    expect(starter).toContain('/$default/POST/workflows/*/runs');
    expect(starter.some((s) => s.endsWith('/cancel') || s.endsWith('/skip'))).toBe(false);
    expect(operator).toEqual(expect.arrayContaining(['/$default/POST/workflows/*/runs/*/cancel']));
    expect(operator).not.toContain('/$default/POST/workflows/*/runs');
    expect(operator).toContain('/$default/POST/workflows/*/runs/*/plugins/*/*/*/skip');
  });

  it('offers a starter policy per workflow that starts only that workflow', () => {
    const policies = iam.stacks.api.workflowStarterPolicies;
    const names = iam.stacks.config.workflows.map((w) => w.name);
    expect(Object.keys(policies).sort()).toEqual([...names].sort());
    const first = names[0] ?? '';
    const granted = grantedSuffixes(logicalIdOf(policies[first] as never));
    expect(granted.filter((s) => s.startsWith('/$default/POST/'))).toEqual([
      `/$default/POST/workflows/${first}/runs`,
    ]);
  });

  it('exports the URL, the API id and the three policy ARNs under stable names', () => {
    const exported = Object.values(template.toJSON().Outputs as Record<string, { Export?: { Name: string } }>)
      .map((o) => o.Export?.Name)
      .filter(Boolean);
    expect(exported).toEqual(
      expect.arrayContaining([
        API_EXPORTS.url(D),
        API_EXPORTS.apiId(D),
        API_EXPORTS.policyArn(D, 'read'),
        API_EXPORTS.policyArn(D, 'start'),
        API_EXPORTS.policyArn(D, 'operate'),
      ]),
    );
  });

  it('lets the function invoke the start function, but write nothing beyond the engine table actions', () => {
    const statements = roleStatements(template, logicalIdOf(iam.stacks.api.apiFunction.role));
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions).toContain('lambda:InvokeFunction');
    expect(actions).not.toContain('dynamodb:Scan');
    expect(actions.filter((a) => a.startsWith('lambda:'))).toEqual(['lambda:InvokeFunction']);
    const invoke = statements.find((s) =>
      (Array.isArray(s.Action) ? s.Action : [s.Action]).includes('lambda:InvokeFunction'),
    );
    expect(JSON.stringify(invoke?.Resource)).toContain('start-function-arn');
  });

  it('puts a cancel on the event bus too when events.eventBridge is on, with the source condition', () => {
    const withBus = synthApp({
      stage: 'dev',
      nag: false,
      builtinValidation: false,
      config: {
        workflows: [{ name: 'order', activities: ['intake'] }],
        activities: { intake: {} },
        events: { eventBridge: 'create' },
      },
    });
    const api = Template.fromStack(withBus.stacks.api);
    const statements = roleStatements(api, logicalIdOf(withBus.stacks.api.apiFunction.role));
    const put = statements.filter((s) =>
      (Array.isArray(s.Action) ? s.Action : [s.Action]).includes('events:PutEvents'),
    );
    expect(put).toHaveLength(1);
    expect(JSON.stringify(put[0])).toContain('plugboard.plugboard');
    const variables = Object.values(api.findResources('AWS::Lambda::Function')).map(
      (f) =>
        ((f as Json).Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment
          ?.Variables,
    );
    expect(variables.some((v) => v?.PLUGBOARD_EVENT_SOURCE === 'plugboard.plugboard')).toBe(true);
    // Without the option, no grant and no bus variables.
    const plain = roleStatements(template, logicalIdOf(iam.stacks.api.apiFunction.role));
    expect(JSON.stringify(plain)).not.toContain('events:PutEvents');
  });

  it('logs access to a log group with retention and throttles the stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('hands declared workflow inputs to the start and API functions in the packed config', () => {
    const withInput = synthApp({
      stage: 'dev',
      nag: false,
      builtinValidation: false,
      config: {
        workflows: [
          {
            name: 'order',
            activities: ['intake'],
            input: { customer: { type: 'string', required: true }, priority: { type: 'integer' } },
          },
        ],
        activities: { intake: {} },
      },
    });
    for (const stack of [withInput.stacks.api, withInput.stacks.core]) {
      const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
      const packed = Object.values(functions)
        .map((f) => (f as Json).Properties as { Environment?: { Variables?: Record<string, unknown> } })
        .map((p) => p.Environment?.Variables?.PLUGBOARD_CONFIG)
        .filter((v): v is string => typeof v === 'string');
      expect(packed.length, stack.stackName).toBeGreaterThan(0);
      expect(JSON.parse(packed[0] ?? '{}').inputs).toEqual({
        order: { customer: { type: 'string', required: true }, priority: { type: 'integer' } },
      });
    }
  });

  it('refuses a declared input field of an unknown type, naming the field', () => {
    expect(() =>
      synthApp({
        stage: 'dev',
        nag: false,
        builtinValidation: false,
        config: {
          workflows: [{ name: 'order', activities: ['intake'], input: { customer: { type: 'text' } } }],
          activities: { intake: {} },
        },
      }),
    ).toThrow(/customer[\s\S]*type must be one of string/);
  });
});
