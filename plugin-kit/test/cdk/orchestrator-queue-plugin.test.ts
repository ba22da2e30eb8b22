import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { OrchestratorQueuePlugin, type OrchestratorQueuePluginProps } from '../../src/cdk/index.js';
import { isInvalidPluginPropsError } from '../../src/index.js';
import { joinedString } from './template-helpers.js';

function queueStack(
  props: Partial<OrchestratorQueuePluginProps> = {},
  consumerTimeout = Duration.seconds(60),
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'QueuePluginStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const code = Code.fromInline('exports.handler = async () => undefined;');
  const bridge = new LambdaFunction(stack, 'Bridge', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code,
  });
  const consumer = new LambdaFunction(stack, 'Consumer', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code,
    timeout: consumerTimeout,
  });
  const plugin = new OrchestratorQueuePlugin(stack, 'RenderPdf', {
    stage: 'dev',
    activity: 'ship-order',
    activityStage: 'post',
    info: { name: 'render-pdf', default: { mandatory: false } },
    bridge,
    consumer,
    ...props,
  });
  const template = Template.fromStack(stack);
  const logicalId = (prefix: string): string => {
    const ids = Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) =>
      id.startsWith(prefix),
    );
    expect(ids).toHaveLength(1);
    return ids[0] ?? '';
  };
  return { stack, plugin, template, bridgeId: logicalId('Bridge'), consumerId: logicalId('Consumer') };
}

/** The IAM actions granted to one function's role. */
function actionsOf(template: Template, functionId: string): string[] {
  const fn = template.findResources('AWS::Lambda::Function')[functionId];
  const roleId: unknown = fn?.Properties?.Role?.['Fn::GetAtt']?.[0];
  const actions: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles: unknown[] = policy.Properties?.Roles ?? [];
    if (!roles.some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }))) continue;
    for (const statement of policy.Properties?.PolicyDocument?.Statement ?? []) {
      actions.push(...[statement.Action].flat());
    }
  }
  return [...new Set(actions)].sort();
}

// The first synth loads aws-cdk-lib (several seconds on a busy machine).
describe('OrchestratorQueuePlugin', { timeout: 60_000 }, () => {
  it('creates an encrypted, SSL-only queue with a dead-letter queue', () => {
    const { template } = queueStack();

    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 360,
      MessageRetentionPeriod: 4 * 24 * 3600,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.resourcePropertiesCountIs(
      'AWS::SQS::QueuePolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      2,
    );
  });

  it('makes FIFO queues without content-based deduplication (the bridge sends a deduplication id)', () => {
    const { template } = queueStack({
      fifo: true,
      info: { name: 'render-pdf', default: { mandatory: false }, fifoKey: 'r' },
    });

    template.resourcePropertiesCountIs('AWS::SQS::Queue', { FifoQueue: true }, 2);
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, ContentBasedDeduplication: false });
  });

  it('encrypts both queues with a given KMS key', () => {
    const { template } = queueStack({}, Duration.seconds(60));
    const withKey = (() => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'S');
      const code = Code.fromInline('exports.handler = async () => undefined;');
      new OrchestratorQueuePlugin(stack, 'P', {
        stage: 'dev',
        activity: 'ship-order',
        activityStage: 'post',
        info: { name: 'render-pdf', default: { mandatory: false } },
        bridge: new LambdaFunction(stack, 'B', {
          runtime: Runtime.NODEJS_24_X,
          handler: 'index.handler',
          code,
        }),
        consumer: new LambdaFunction(stack, 'C', {
          runtime: Runtime.NODEJS_24_X,
          handler: 'index.handler',
          code,
        }),
        encryptionKey: new Key(stack, 'QueueKey'),
      });
      return Template.fromStack(stack);
    })();

    withKey.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() }, 2);
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() }, 0);
  });

  it('subscribes and registers the bridge, and tells it its queue', () => {
    const { template, bridgeId } = queueStack();

    template.hasResourceProperties('AWS::SNS::Subscription', {
      Endpoint: { 'Fn::GetAtt': [bridgeId, 'Arn'] },
      TopicArn: { 'Fn::ImportValue': 'plugboard-dev-ship-order-post-processing' },
      FilterPolicy: { plugins: ['render-pdf'] },
    });
    const registration = Object.values(template.findResources('Custom::PlugboardPluginRegistration'))[0];
    const body = JSON.parse(joinedString(registration?.Properties?.Registration, '<arn>'));
    expect(body).toMatchObject({ activity: 'ship-order', stage: 'post', info: { name: 'render-pdf' } });
    expect(JSON.stringify(registration?.Properties?.Registration)).toContain(bridgeId);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          PLUGBOARD_PLUGIN_QUEUE_URL: { Ref: Match.stringLikeRegexp('^RenderPdfQueue') },
          PLUGBOARD_STATUS_TABLE: { 'Fn::ImportValue': 'plugboard-dev-status-table-name' },
        },
      },
      Tags: Match.arrayWith([{ Key: 'plugboard:system', Value: 'plugboard-dev' }]),
    });
  });

  it('feeds the consumer from the queue with partial batch failures', () => {
    const { template, consumerId } = queueStack({ batchSize: 5, maxConcurrency: 3 });

    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: consumerId },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RenderPdfQueue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 5,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });

  it('grants the bridge reporting, its status check and sending to the plugin queue; nothing more', () => {
    const { template, bridgeId } = queueStack();

    expect(actionsOf(template, bridgeId)).toEqual(['dynamodb:GetItem', 'sqs:SendMessage']);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: 'sqs:SendMessage',
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RenderPdfQueue'), 'Arn'] },
          },
        ]),
      },
    });
  });

  it('grants the consumer reporting, its status check and consuming the queue; never a table write', () => {
    const { template, consumerId } = queueStack();

    const actions = actionsOf(template, consumerId);

    expect(actions).toEqual(
      expect.arrayContaining([
        'dynamodb:GetItem',
        'sqs:SendMessage',
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
      ]),
    );
    expect(actions.filter((a) => a.startsWith('dynamodb:') && a !== 'dynamodb:GetItem')).toEqual([]);
  });

  it('does not tag, subscribe or register the consumer', () => {
    const { template, consumerId } = queueStack();

    const consumer = template.findResources('AWS::Lambda::Function')[consumerId];
    expect(JSON.stringify(consumer?.Properties?.Tags ?? [])).not.toContain('plugboard:system');
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.resourceCountIs('Custom::PlugboardPluginRegistration', 1);
  });

  it('collects every invalid prop, of the placement and of the queue, and throws once', () => {
    let error: unknown;
    try {
      queueStack(
        {
          activity: 'Bad Activity',
          batchSize: 11,
          maxConcurrency: 1,
          visibilityTimeout: Duration.seconds(30),
        },
        Duration.minutes(2),
      );
    } catch (caught) {
      error = caught;
    }

    expect(isInvalidPluginPropsError(error)).toBe(true);
    const problems = isInvalidPluginPropsError(error) ? error.problems : [];
    expect(problems.map((problem) => problem.split(/[ :]/)[0])).toEqual([
      'activity',
      'batchSize',
      'maxConcurrency',
      'visibilityTimeout',
    ]);
  });

  it('warns that fifoKey has no effect on a standard queue', () => {
    const { stack } = queueStack({
      info: { name: 'render-pdf', default: { mandatory: false }, fifoKey: 'one' },
    });

    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('fifoKey'));
  });
});
