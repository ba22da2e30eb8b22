/**
 * AWS::SNS::Topic and AWS::SNS::Subscription on moto. Subscriptions with protocol `sqs` are created on
 * moto as they are; protocol `lambda` goes to the Lambda runner, which subscribes a hidden SQS queue
 * with the same filter policy (moto cannot invoke Lambda code).
 */
import { CreateTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { isRecord, nested, type PropertyReader, TAGS_REASON } from './properties.js';
import { generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

export const snsTopicProvider: ResourceProvider = {
  types: ['AWS::SNS::Topic'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const fifo = p.optionalBoolean('FifoTopic') ?? false;
    const name =
      p.optionalString('TopicName') ??
      generatedName(context.stackName, context.logicalId, 256, fifo ? '.fifo' : '');
    const attributes: Record<string, string> = {};
    const put = (key: string, value: string | boolean | undefined) => {
      if (value !== undefined) attributes[key] = String(value);
    };
    if (fifo) put('FifoTopic', 'true');
    put('ContentBasedDeduplication', p.optionalBoolean('ContentBasedDeduplication'));
    put('DisplayName', p.optionalString('DisplayName'));
    put('KmsMasterKeyId', p.optionalString('KmsMasterKeyId'));
    put('SignatureVersion', p.optionalString('SignatureVersion'));
    put('TracingConfig', p.optionalString('TracingConfig'));
    put('FifoThroughputScope', p.optionalString('FifoThroughputScope'));
    put('ArchivePolicy', p.optionalJson('ArchivePolicy'));
    p.ignore('DataProtectionPolicy', 'message data protection is not emulated');
    p.ignore(
      'DeliveryStatusLogging',
      'delivery status logging goes to CloudWatch Logs, which the local cloud does not keep',
    );
    p.ignore('Tags', TAGS_REASON);
    const inline = p.optionalArray('Subscription') ?? [];
    p.done();
    const created = await context.clients.sns.send(
      new CreateTopicCommand({ Name: name, Attributes: attributes }),
    );
    const topicArn = created.TopicArn;
    if (topicArn === undefined) throw new Error(`moto returned no ARN for topic ${name}`);
    for (const [index, entry] of inline.entries()) {
      if (!isRecord(entry)) throw p.error(`Subscription[${index}]`, 'expected {Protocol, Endpoint}');
      const sub = nested(p, `Subscription[${index}]`, entry);
      await subscribe(context, sub, topicArn, sub.string('Protocol'), sub.string('Endpoint'));
    }
    return { physicalId: topicArn, attributes: { TopicArn: topicArn, TopicName: name } };
  },
};

export const snsSubscriptionProvider: ResourceProvider = {
  types: ['AWS::SNS::Subscription'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const region = p.optionalString('Region');
    if (region !== undefined && region !== context.environment.region) {
      throw p.error(
        'Region',
        `the local cloud has one region (${context.environment.region}); got ${region}`,
      );
    }
    const subscriptionArn = await subscribe(
      context,
      p,
      p.string('TopicArn'),
      p.string('Protocol'),
      p.optionalString('Endpoint'),
    );
    return { physicalId: subscriptionArn, attributes: { Arn: subscriptionArn } };
  },
};

async function subscribe(
  context: ProviderContext,
  p: PropertyReader,
  topicArn: string,
  protocol: string,
  endpoint: string | undefined,
): Promise<string> {
  if (endpoint === undefined) throw p.error('Endpoint', 'is required');
  const filterPolicy = p.optionalJson('FilterPolicy');
  const filterPolicyScope = p.optionalString('FilterPolicyScope');
  const rawMessageDelivery = p.optionalBoolean('RawMessageDelivery');
  const redrivePolicy = p.optionalJson('RedrivePolicy');
  p.ignore(
    'DeliveryPolicy',
    'delivery policies apply to HTTP/S endpoints, which the local cloud does not serve',
  );
  p.reject('ReplayPolicy', 'message archiving and replay are not emulated');
  p.reject('SubscriptionRoleArn', 'Firehose subscriptions are not emulated');
  p.done();
  if (filterPolicyScope !== undefined && filterPolicy === undefined) {
    throw p.error('FilterPolicyScope', 'is set without a FilterPolicy');
  }
  if (protocol === 'lambda') {
    if (rawMessageDelivery === true)
      throw p.error('RawMessageDelivery', 'is not valid for the lambda protocol');
    const info = await context.runner.addSnsSubscription({
      topicArn,
      functionName: endpoint,
      ...(filterPolicy !== undefined ? { filterPolicy } : {}),
      ...(filterPolicyScope !== undefined ? { filterPolicyScope } : {}),
      ...(redrivePolicy !== undefined ? { redrivePolicy } : {}),
    });
    return info.subscriptionArn;
  }
  if (protocol !== 'sqs') {
    throw p.error(
      'Protocol',
      `protocol ${protocol} is not emulated; the local cloud delivers SNS to sqs and lambda subscribers only`,
    );
  }
  const attributes: Record<string, string> = {};
  if (filterPolicy !== undefined) {
    attributes.FilterPolicy = filterPolicy;
    attributes.FilterPolicyScope = filterPolicyScope ?? 'MessageAttributes';
  }
  if (rawMessageDelivery !== undefined) attributes.RawMessageDelivery = String(rawMessageDelivery);
  if (redrivePolicy !== undefined) attributes.RedrivePolicy = redrivePolicy;
  const response = await context.clients.sns.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: endpoint,
      Attributes: attributes,
      ReturnSubscriptionArn: true,
    }),
  );
  if (response.SubscriptionArn === undefined)
    throw new Error(`moto returned no subscription ARN for ${topicArn}`);
  return response.SubscriptionArn;
}
