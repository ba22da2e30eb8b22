import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PlugboardCdkError } from '../../lib/errors.js';
import type { OrchestratorFunction } from '../../lib/orchestrator-function.js';
import { type PlugboardStacks, TAG_KEYS } from '../../lib/plugboard-app.js';
import { STAGE_NAMES } from '../../plugin-kit/src/contracts/index.js';
import {
  asArray,
  logicalIdOf,
  roleStatements,
  type StatementJson,
  type SynthResult,
  synthApp,
} from '../support/synth.js';

interface ResourceJson {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
}
interface TemplateJson {
  readonly Resources: Record<string, ResourceJson>;
  readonly Outputs?: Record<string, { Export?: { Name: string } }>;
}

const templatesOf = (assembly: CloudAssembly): Map<string, TemplateJson> =>
  new Map(assembly.stacks.map((s) => [s.stackName, s.template as TemplateJson]));

const PHYSICAL_NAME_PROPERTIES: Record<string, string> = {
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::Events::Rule': 'Name',
  'AWS::KMS::Key': 'KeyId',
};

/** Every name that must be unique in an account and region: stacks, exports, hard-coded physical names. */
function accountWideNames(assembly: CloudAssembly): string[] {
  const names: string[] = [];
  for (const [stackName, template] of templatesOf(assembly)) {
    names.push(`stack:${stackName}`);
    for (const output of Object.values(template.Outputs ?? {})) {
      if (output.Export) names.push(`export:${output.Export.Name}`);
    }
    for (const resource of Object.values(template.Resources)) {
      const property = PHYSICAL_NAME_PROPERTIES[resource.Type];
      const value = property ? resource.Properties?.[property] : undefined;
      if (value !== undefined) names.push(`${resource.Type}:${JSON.stringify(value)}`);
    }
  }
  return names;
}

/** Every statement of every IAM policy of the app that grants something on `*`. */
function starStatementsOf(assembly: CloudAssembly): StatementJson[] {
  const starStatements: StatementJson[] = [];
  for (const template of templatesOf(assembly).values()) {
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::IAM::Policy') continue;
      const doc = resource.Properties?.PolicyDocument as { Statement: StatementJson[] };
      starStatements.push(...doc.Statement.filter((s) => asArray(s.Resource).includes('*')));
    }
  }
  return starStatements;
}

function expectOnlyXRayOrNamespacedMetrics(statements: readonly StatementJson[]): void {
  for (const statement of statements) {
    const actions = asArray(statement.Action).sort();
    if (actions.includes('cloudwatch:GetMetricData')) {
      // The API function reads plugin liveness (GET /plugins); GetMetricData has no resource ARNs.
      expect(actions).toEqual(['cloudwatch:GetMetricData']);
    } else if (actions.includes('cloudwatch:PutMetricData')) {
      expect(actions).toEqual(['cloudwatch:PutMetricData']);
      expect(JSON.stringify(statement)).toContain('cloudwatch:namespace');
    } else {
      expect(actions).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    }
  }
}

/** The 12 orchestrator functions of the app (start, sweeper, registrar, 3 per activity) with their stack. */
function orchestratorsOf(stacks: PlugboardStacks): { stack: Stack; orchestrator: OrchestratorFunction }[] {
  const { core } = stacks;
  return [
    ...[core.startFunction, core.sweeperFunction, core.registrarFunction].map((orchestrator) => ({
      stack: core as Stack,
      orchestrator,
    })),
    ...stacks.activities.flatMap((stack) =>
      STAGE_NAMES.map((stage) => ({
        stack: stack as Stack,
        orchestrator: stack.activity.stages[stage].orchestrator,
      })),
    ),
  ];
}

/** What the synthesized app says about one orchestrator's tracing. */
function tracingOf({ stack, orchestrator }: { stack: Stack; orchestrator: OrchestratorFunction }) {
  const template = Template.fromStack(stack);
  const fn = template.findResources('AWS::Lambda::Function')[logicalIdOf(orchestrator.function)];
  const xray = roleStatements(template, logicalIdOf(orchestrator.role)).filter((s) =>
    asArray(s.Action).some((a) => a.startsWith('xray:')),
  );
  const acknowledged: Record<string, string> = {};
  for (const entry of orchestrator.function.node.metadata) {
    if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) Object.assign(acknowledged, entry.data);
  }
  return { tracingConfig: fn?.Properties?.TracingConfig as unknown, xray, acknowledged };
}

describe('the whole app (stage dev, with cdk-nag and CloudFormation validation)', () => {
  let dev: SynthResult;

  beforeAll(() => {
    dev = synthApp({ stage: 'dev' });
  });

  it('synthesizes the core stack, one stack per activity and the metrics stack, all after core', () => {
    expect(dev.assembly.stacks.map((s) => s.stackName).sort()).toEqual([
      'plugboard-dev-activity-fulfilment',
      'plugboard-dev-activity-intake',
      'plugboard-dev-activity-notify',
      'plugboard-dev-api',
      'plugboard-dev-core',
      'plugboard-dev-metrics',
    ]);
    for (const stack of dev.assembly.stacks.filter((s) => s.stackName !== 'plugboard-dev-core')) {
      expect(stack.dependencies.map((d) => d.id)).toContain('plugboard-dev-core');
    }
  });

  it('leaves no cdk-nag or validation finding unacknowledged', () => {
    const report = JSON.parse(
      readFileSync(join(dev.assembly.directory, 'validation-report.json'), 'utf8'),
    ) as {
      pluginReports: unknown[];
    };

    expect(report.pluginReports).toEqual([]);
  });

  it('gives every acknowledgement a specific reason', () => {
    const reasons: [string, string][] = [];
    const visit = (node: IConstruct): void => {
      for (const entry of node.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>))
            reasons.push([id, reason]);
        }
      }
      for (const child of node.node.children) visit(child);
    };
    visit(dev.app);

    expect(reasons.length).toBeGreaterThan(0);
    for (const [id, reason] of reasons) {
      expect(reason.length, `reason of ${id}`).toBeGreaterThanOrEqual(60);
    }
  });

  it('hard-codes no physical name except the start queue, the stage inboxes, their dead-letter queues and the stage topics', () => {
    const physical = accountWideNames(dev.assembly).filter(
      (n) => !n.startsWith('stack:') && !n.startsWith('export:'),
    );

    const expected = ['AWS::SQS::Queue:"plugboard-dev-start"', 'AWS::SQS::Queue:"plugboard-dev-start-dlq"'];
    for (const activity of ['intake', 'fulfilment', 'notify']) {
      for (const stage of ['pre', 'parallel', 'post']) {
        expected.push(
          `AWS::SQS::Queue:"plugboard-dev-${activity}-${stage}-inbox"`,
          `AWS::SQS::Queue:"plugboard-dev-${activity}-${stage}-inbox-dlq"`,
          `AWS::SNS::Topic:"plugboard-dev-${activity}-${stage}-topic"`,
        );
      }
    }
    expect(expected).toHaveLength(29);
    expect([...physical].sort()).toEqual(expected.sort());
  });

  it('alarms on the start queue’s dead-letter queue like on every inbox’s', () => {
    const metrics = templatesOf(dev.assembly).get('plugboard-dev-metrics');
    const alarms = Object.values(metrics?.Resources ?? {}).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    const watched = alarms.map((alarm) => JSON.stringify(alarm.Properties?.Metrics ?? []));
    expect(
      watched.filter((m) => m.includes('{"Name":"QueueName","Value":"plugboard-dev-start-dlq"}')),
    ).toHaveLength(1);
  });

  it('tags every taggable resource with the system name and the deployment stage', () => {
    let tagged = 0;
    for (const template of templatesOf(dev.assembly).values()) {
      for (const [id, resource] of Object.entries(template.Resources)) {
        const tags = resource.Properties?.Tags;
        if (!Array.isArray(tags)) continue;
        tagged += 1;
        expect(tags, id).toEqual(
          expect.arrayContaining([
            { Key: TAG_KEYS.systemName, Value: 'plugboard' },
            { Key: TAG_KEYS.stage, Value: 'dev' },
          ]),
        );
        expect(
          tags.map((t: { Key: string }) => t.Key),
          id,
        ).not.toContain('plugboard:system');
      }
    }
    expect(tagged).toBeGreaterThan(50);
  });

  it('grants no action on "*" except X-Ray (the liveness check only, by default) and the namespaced PutMetricData', () => {
    const starStatements = starStatementsOf(dev.assembly);

    // Orchestrators pass traces through by default: only the liveness check traces to X-Ray, and the
    // metrics function puts its metrics, restricted to its namespace by a condition.
    expect(starStatements.length).toBe(3);
    expectOnlyXRayOrNamespacedMetrics(starStatements);
  });

  it('lets nothing but the orchestrator roles (and the liveness check, for its alert mark) write the status table', () => {
    const writers = new Set<string>();
    for (const [stackName, template] of templatesOf(dev.assembly)) {
      for (const resource of Object.values(template.Resources)) {
        if (resource.Type !== 'AWS::IAM::Policy') continue;
        const doc = resource.Properties?.PolicyDocument as { Statement: StatementJson[] };
        if (
          doc.Statement.some((s) =>
            asArray(s.Action).some((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a)),
          )
        ) {
          const roles = resource.Properties?.Roles as { Ref: string }[];
          for (const role of roles) writers.add(`${stackName}/${role.Ref}`);
        }
      }
    }

    expect(writers.size).toBe(3 + 9 + 1 + 1);
    for (const role of writers)
      expect(role).toMatch(
        /(Start|Sweeper|Registrar)FunctionRole|OrchestratorRole|-metrics\/\w*Liveness\w*Role|-api\/ApiFunctionRole/,
      );
  });
});

describe('X-Ray tracing (--context tracing)', () => {
  it('is off by default: no orchestrator has a TracingConfig or X-Ray permissions, and cdk-nag is told why', () => {
    const { stacks } = synthApp({ stage: 'dev', nag: false, builtinValidation: false });
    const orchestrators = orchestratorsOf(stacks);

    expect(orchestrators).toHaveLength(12);
    for (const entry of orchestrators) {
      const { tracingConfig, xray, acknowledged } = tracingOf(entry);
      const path = entry.orchestrator.node.path;

      expect(tracingConfig, path).toBeUndefined();
      expect(xray, path).toEqual([]);
      expect(acknowledged['Annotation::Serverless-LambdaTracing'], path).toMatch(
        /^Tracing is an opt-in \(--context tracing=active\)/,
      );
    }
  });

  it('with tracing=active traces every orchestrator, with the X-Ray permissions, and passes cdk-nag', () => {
    const { stacks, assembly } = synthApp({
      stage: 'dev',
      builtinValidation: false,
      context: { tracing: 'active' },
    });
    const orchestrators = orchestratorsOf(stacks);

    expect(orchestrators).toHaveLength(12);
    for (const entry of orchestrators) {
      const { tracingConfig, xray, acknowledged } = tracingOf(entry);
      const path = entry.orchestrator.node.path;

      expect(tracingConfig, path).toEqual({ Mode: 'Active' });
      expect(xray, path).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Action: expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']),
          Resource: '*',
        }),
      ]);
      expect(asArray(xray[0]?.Action ?? [])).toHaveLength(2);
      expect(
        Object.keys(acknowledged).filter((id) => id.includes('LambdaTracing')),
        path,
      ).toEqual([]);
    }
    // 12 orchestrators, the API function and the liveness check trace; the metrics function's
    // PutMetricData; the API function's GetMetricData.
    const starStatements = starStatementsOf(assembly);
    expect(starStatements).toHaveLength(16);
    expectOnlyXRayOrNamespacedMetrics(starStatements);
  });

  it('fails synth on any other value, naming tracing=active', () => {
    const synth = () =>
      synthApp({ stage: 'dev', nag: false, builtinValidation: false, context: { tracing: 'on' } });

    expect(synth).toThrow(PlugboardCdkError);
    expect(synth).toThrow(/--context tracing=on is not a tracing mode; use tracing=active/);
  });
});

describe('two deployments side by side', () => {
  it('share no stack, export or physical name (dev and prod; another systemName)', () => {
    const dev = accountWideNames(synthApp({ stage: 'dev', nag: false, builtinValidation: false }).assembly);
    const prod = accountWideNames(synthApp({ stage: 'prod', nag: false, builtinValidation: false }).assembly);
    const other = accountWideNames(
      synthApp({ stage: 'dev', systemName: 'billing', nag: false, builtinValidation: false }).assembly,
    );

    for (const names of [dev, prod, other]) expect(new Set(names).size).toBe(names.length);
    expect(dev.filter((n) => prod.includes(n))).toEqual([]);
    expect(dev.filter((n) => other.includes(n))).toEqual([]);
    expect(prod).toContain('export:plugboard-prod-intake-pre-processing');
    expect(other).toContain('stack:billing-dev-core');
  });
});

describe('cdk-nag at synth', () => {
  it('fails synth on an unacknowledged finding', () => {
    expect(() =>
      synthApp({
        stage: 'dev',
        builtinValidation: false,
        beforeSynth: ({ core }) => {
          new Queue(core, 'UncheckedQueue');
        },
      }),
    ).toThrow(/AwsSolutions-SQS3/);
  });

  it('fails synth on an unacknowledged finding that the pack rates only a warning', () => {
    expect(() =>
      synthApp({
        stage: 'dev',
        builtinValidation: false,
        beforeSynth: ({ core }) => {
          new LogGroup(core, 'KeptForever', { retention: RetentionDays.INFINITE });
        },
      }),
    ).toThrow(/Serverless-CloudWatchLogGroupRetentionPeriod/);
  });
});

describe('config warnings', () => {
  it('warns about an activity no workflow uses but still deploys its stack', () => {
    const { stacks } = synthApp({
      stage: 'dev',
      builtinValidation: false,
      config: {
        workflows: [{ name: 'order', activities: ['intake'] }],
        activities: { intake: {}, spare: {} },
      },
    });

    expect(stacks.activities.map((s) => s.stackName)).toEqual([
      'plugboard-dev-activity-intake',
      'plugboard-dev-activity-spare',
    ]);
    Annotations.fromStack(stacks.core).hasWarning(
      '*',
      Match.stringLikeRegexp('activities\\.spare: no workflow uses this activity'),
    );
  });
});
