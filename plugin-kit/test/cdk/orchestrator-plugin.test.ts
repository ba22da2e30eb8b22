import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { User } from 'aws-cdk-lib/aws-iam';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { OrchestratorPlugin, type OrchestratorPluginProps } from '../../src/cdk/index.js';
import { isInvalidPluginPropsError, registrationSchema } from '../../src/index.js';
import { iamActions, joinedString } from './template-helpers.js';

function pluginStack(
  props: Partial<OrchestratorPluginProps> = {},
  extend: (plugin: OrchestratorPlugin, stack: Stack) => void = () => undefined,
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'PluginStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const fn = new LambdaFunction(stack, 'CheckCredit', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => undefined;'),
  });
  const plugin = new OrchestratorPlugin(stack, 'CheckCreditPlugin', {
    stage: 'dev',
    activity: 'approve-order',
    activityStage: 'parallel',
    info: { name: 'check-credit', default: { mandatory: true } },
    function: fn,
    ...props,
  });
  extend(plugin, stack);
  return { stack, fn, plugin, template: Template.fromStack(stack) };
}

// The first synth loads aws-cdk-lib (several seconds on a busy machine).
describe('OrchestratorPlugin', { timeout: 60_000 }, () => {
  it('subscribes the function to the imported stage topic with plugins: [<name>] added to its policy', () => {
    const { template } = pluginStack({ filterPolicy: { country: ['NL', 'BE'] } });

    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      TopicArn: { 'Fn::ImportValue': 'plugboard-dev-approve-order-parallel-processing' },
      Endpoint: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CheckCredit'), 'Arn'] },
      FilterPolicy: { country: ['NL', 'BE'], plugins: ['check-credit'] },
      FilterPolicyScope: 'MessageAttributes',
    });
  });

  it('filters on the body for a MessageBody-scoped policy and keeps a top-level $or as it is', () => {
    const own = { $or: [{ metadata: { tier: ['gold'] } }, { metadata: { vip: [true] } }] };

    const { template } = pluginStack({ filterPolicy: own, filterPolicyScope: 'MessageBody' });

    template.hasResourceProperties('AWS::SNS::Subscription', {
      FilterPolicy: { ...own, plugins: ['check-credit'] },
      FilterPolicyScope: 'MessageBody',
    });
  });

  it('targets only the plugin when it has no policy of its own', () => {
    const { template, plugin } = pluginStack();

    template.hasResourceProperties('AWS::SNS::Subscription', { FilterPolicy: { plugins: ['check-credit'] } });
    expect(plugin.filterPolicy).toEqual({ plugins: ['check-credit'] });
  });

  it('lets SNS invoke the function from the stage topic only', () => {
    const { template } = pluginStack();

    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'sns.amazonaws.com',
      SourceArn: { 'Fn::ImportValue': 'plugboard-dev-approve-order-parallel-processing' },
    });
  });

  it('registers through the registrar custom resource with the Registration form, after subscribing', () => {
    const { template } = pluginStack({ filterPolicy: { country: ['NL'] } });

    const resources = template.findResources('Custom::PlugboardPluginRegistration');
    const [registration] = Object.values(resources);
    const properties = registration?.Properties ?? {};
    expect(Object.keys(resources)).toHaveLength(1);
    expect(properties.ServiceToken).toEqual({ 'Fn::ImportValue': 'plugboard-dev-registrar-service-token' });
    expect(properties.Activity).toBe('approve-order');
    expect(properties.Stage).toBe('parallel');
    expect(properties).not.toHaveProperty('FunctionArn');
    const parsed = registrationSchema.parse(
      JSON.parse(joinedString(properties.Registration, '<function-arn>')),
    );
    expect(parsed).toEqual({
      schemaVersion: 1,
      activity: 'approve-order',
      stage: 'parallel',
      info: {
        name: 'check-credit',
        default: { mandatory: true },
        overrides: {},
        order: 90,
        idempotent: true,
        alwaysRun: false,
        reportInProgress: true,
      },
      filterPolicy: { country: ['NL'] },
      filterPolicyScope: 'MessageAttributes',
      functionArn: '<function-arn>',
    });
    const subscriptionId = Object.keys(template.findResources('AWS::SNS::Subscription'))[0];
    expect(registration?.DependsOn).toContain(subscriptionId);
  });

  it('tags the function and its reporting role as a plugin of the deployment (the table denies that role writes)', () => {
    const { template } = pluginStack();

    template.hasResourceProperties('AWS::Lambda::Function', {
      Tags: Match.arrayWith([{ Key: 'plugboard:system', Value: 'plugboard-dev' }]),
    });
    const roles = Object.values(template.findResources('AWS::IAM::Role'));
    expect(roles).toHaveLength(1);
    expect(roles[0]?.Properties?.Tags).toEqual(
      expect.arrayContaining([{ Key: 'plugboard:system', Value: 'plugboard-dev' }]),
    );
  });

  it('sets PLUGBOARD_STATUS_TABLE to the imported status table name', () => {
    const { template } = pluginStack();

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: { PLUGBOARD_STATUS_TABLE: { 'Fn::ImportValue': 'plugboard-dev-status-table-name' } },
      },
    });
  });

  it('grants exactly: send to the inbox and GetItem on the status table (no key: inboxes use SSE-SQS)', () => {
    const { template } = pluginStack();

    expect(iamActions(template)).toEqual([
      { action: 'dynamodb:GetItem', resource: { 'Fn::ImportValue': 'plugboard-dev-status-table-arn' } },
      {
        action: 'sqs:SendMessage',
        resource: { 'Fn::ImportValue': 'plugboard-dev-approve-order-parallel-inbox-arn' },
      },
    ]);
  });

  it('never grants a DynamoDB write action', () => {
    const plain = pluginStack().template;
    const { template } = pluginStack({}, (plugin, stack) =>
      plugin.grantReadStatus(new User(stack, 'Reader')),
    );

    const actions = iamActions(template).map((grant) => grant.action);

    expect(
      actions.filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite)/.test(action)),
    ).toEqual([]);
    expect(iamActions(plain).some((grant) => grant.action === '*' || grant.action.endsWith(':*'))).toBe(
      false,
    );
  });

  it.each([
    ['idempotent: false', { idempotent: false }],
    ['alwaysRun: true', { alwaysRun: true }],
  ])('grants no table access at all to a plugin with %s', (_name, flags) => {
    const { template } = pluginStack({
      info: { name: 'check-credit', default: { mandatory: true }, ...flags },
    });

    expect(iamActions(template).filter((grant) => grant.action.startsWith('dynamodb:'))).toEqual([]);
  });

  it('grants GetItem and Query through grantReadStatus, for the status reader', () => {
    const { template } = pluginStack({}, (plugin, stack) =>
      plugin.grantReadStatus(new User(stack, 'Reader')),
    );

    template.hasResourceProperties('AWS::IAM::Policy', {
      Users: [{ Ref: Match.stringLikeRegexp('^Reader') }],
      PolicyDocument: {
        Statement: [
          {
            Action: ['dynamodb:GetItem', 'dynamodb:Query'],
            Effect: 'Allow',
            Resource: { 'Fn::ImportValue': 'plugboard-dev-status-table-arn' },
          },
        ],
      },
    });
  });

  it('imports the exports of another system name', () => {
    const { template } = pluginStack({ systemName: 'acme', stage: 'prod', activityStage: 'pre' });

    template.hasResourceProperties('AWS::SNS::Subscription', {
      TopicArn: { 'Fn::ImportValue': 'acme-prod-approve-order-pre-processing' },
    });
    template.hasResourceProperties('Custom::PlugboardPluginRegistration', {
      ServiceToken: { 'Fn::ImportValue': 'acme-prod-registrar-service-token' },
      Stage: 'pre',
    });
  });

  it('refuses a filter policy that uses the key plugins, naming the prop and the fix', () => {
    const build = () => pluginStack({ filterPolicy: { plugins: ['someone'] } });

    expect(build).toThrow(/filterPolicy\.plugins: "plugins" is reserved.*Remove the key/s);
  });

  it('collects every invalid prop and throws once', () => {
    let error: unknown;
    try {
      pluginStack({
        stage: 'dev stage',
        activity: 'Approve_Order',
        activityStage: 'middle' as never,
        info: { name: 'bad name!', default: { mandatory: true } },
        filterPolicy: { plugins: ['x'] },
        filterPolicyScope: 'Body' as never,
      });
    } catch (caught) {
      error = caught;
    }

    expect(isInvalidPluginPropsError(error)).toBe(true);
    const problems = isInvalidPluginPropsError(error) ? error.problems : [];
    expect(problems.map((problem) => problem.split(/[ :]/)[0])).toEqual([
      'stage',
      'activity',
      'activityStage',
      'filterPolicy.plugins',
      'filterPolicyScope',
      'info.name',
    ]);
  });

  it('warns when the policy has more keys than SNS accepts once plugins is added', () => {
    const { stack } = pluginStack({ filterPolicy: { a: ['1'], b: ['1'], c: ['1'], d: ['1'], e: ['1'] } });

    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('at most 5 keys'));
  });
});
