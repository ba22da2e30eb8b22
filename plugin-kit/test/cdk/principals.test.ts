/**
 * The kit's constructs register the principals that may report for a plugin: the role id of every
 * function granted `grantReport` (the plugin's function; for the queue bridge also the consumer).
 */
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Role } from 'aws-cdk-lib/aws-iam';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { OrchestratorPlugin, OrchestratorQueuePlugin } from '../../src/cdk/index.js';

function stackWith(build: (stack: Stack, fn: (id: string) => LambdaFunction) => void) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'PluginStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const code = Code.fromInline('exports.handler = async () => undefined;');
  build(
    stack,
    (id) => new LambdaFunction(stack, id, { runtime: Runtime.NODEJS_24_X, handler: 'index.handler', code }),
  );
  return Template.fromStack(stack);
}

const roleOf = (template: Template, prefix: string): string => {
  const [id] = Object.keys(template.findResources('AWS::IAM::Role')).filter((key) => key.startsWith(prefix));
  return id ?? '';
};

function principalsOf(template: Template): unknown {
  const [registration] = Object.values(template.findResources('Custom::PlugboardPluginRegistration'));
  return registration?.Properties?.Principals;
}

describe('registered principals', { timeout: 60_000 }, () => {
  it('registers the plugin function’s role id', () => {
    const template = stackWith((stack, fn) => {
      new OrchestratorPlugin(stack, 'Plugin', {
        stage: 'dev',
        activity: 'approve-order',
        activityStage: 'parallel',
        info: { name: 'check-credit', default: { mandatory: true } },
        function: fn('CheckCredit'),
      });
    });

    expect(principalsOf(template)).toEqual([
      { 'Fn::GetAtt': [roleOf(template, 'CheckCreditServiceRole'), 'RoleId'] },
    ]);
  });

  it('registers the queue bridge’s role, its consumer’s and any other reporter’s, once each', () => {
    const template = stackWith((stack, fn) => {
      const consumer = fn('Consumer');
      const plugin = new OrchestratorQueuePlugin(stack, 'RenderPdf', {
        stage: 'dev',
        activity: 'ship-order',
        activityStage: 'post',
        info: { name: 'render-pdf', default: { mandatory: false } },
        bridge: fn('Bridge'),
        consumer,
      });
      plugin.plugin.grantReport(consumer);
      plugin.plugin.grantReport(fn('Extra'));
    });

    expect(principalsOf(template)).toEqual([
      { 'Fn::GetAtt': [roleOf(template, 'BridgeServiceRole'), 'RoleId'] },
      { 'Fn::GetAtt': [roleOf(template, 'ConsumerServiceRole'), 'RoleId'] },
      { 'Fn::GetAtt': [roleOf(template, 'ExtraServiceRole'), 'RoleId'] },
    ]);
  });

  it('warns when a reporter’s role is imported (its RoleId cannot be registered)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'PluginStack', { env: { account: '123456789012', region: 'eu-west-1' } });
    const fn = new LambdaFunction(stack, 'CheckCredit', {
      runtime: Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => undefined;'),
      role: Role.fromRoleArn(stack, 'Imported', 'arn:aws:iam::123456789012:role/shared-plugin-role'),
    });
    new OrchestratorPlugin(stack, 'Plugin', {
      stage: 'dev',
      activity: 'approve-order',
      activityStage: 'parallel',
      info: { name: 'check-credit', default: { mandatory: true } },
      function: fn,
    });

    const template = Template.fromStack(stack);
    expect(principalsOf(template)).toBeUndefined();
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue());
    expect(JSON.stringify(warnings)).toContain('RoleId cannot be registered');
  });
});
