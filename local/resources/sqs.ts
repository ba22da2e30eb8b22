/** AWS::SQS::Queue on moto: FIFO, deduplication, timeouts, retention, delay and redrive to a DLQ. */
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { isRecord, TAGS_REASON } from './properties.js';
import { generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

export const sqsQueueProvider: ResourceProvider = {
  types: ['AWS::SQS::Queue'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const fifo = p.optionalBoolean('FifoQueue') ?? false;
    const name =
      p.optionalString('QueueName') ??
      generatedName(context.stackName, context.logicalId, 80, fifo ? '.fifo' : '');
    if (fifo && !name.endsWith('.fifo'))
      throw p.error('QueueName', `a FIFO queue name must end with .fifo, got ${name}`);
    const attributes: Record<string, string> = {};
    const put = (key: string, value: string | number | boolean | undefined) => {
      if (value !== undefined) attributes[key] = String(value);
    };
    if (fifo) put('FifoQueue', 'true');
    put('ContentBasedDeduplication', p.optionalBoolean('ContentBasedDeduplication'));
    put('DeduplicationScope', p.optionalString('DeduplicationScope'));
    put('FifoThroughputLimit', p.optionalString('FifoThroughputLimit'));
    put('DelaySeconds', p.optionalNumber('DelaySeconds'));
    put('MaximumMessageSize', p.optionalNumber('MaximumMessageSize'));
    put('MessageRetentionPeriod', p.optionalNumber('MessageRetentionPeriod'));
    put('ReceiveMessageWaitTimeSeconds', p.optionalNumber('ReceiveMessageWaitTimeSeconds'));
    put('VisibilityTimeout', p.optionalNumber('VisibilityTimeout'));
    put('KmsMasterKeyId', p.optionalString('KmsMasterKeyId'));
    put('KmsDataKeyReusePeriodSeconds', p.optionalNumber('KmsDataKeyReusePeriodSeconds'));
    put('SqsManagedSseEnabled', p.optionalBoolean('SqsManagedSseEnabled'));
    const redrive = p.raw('RedrivePolicy');
    if (redrive !== undefined)
      attributes.RedrivePolicy = normalizeRedrivePolicy(redrive, (detail) =>
        p.error('RedrivePolicy', detail),
      );
    put('RedriveAllowPolicy', p.optionalJson('RedriveAllowPolicy'));
    p.ignore('Tags', TAGS_REASON);
    p.done();
    const created = await context.clients.sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
    );
    const url = created.QueueUrl;
    if (url === undefined) throw new Error(`moto returned no URL for queue ${name}`);
    const read = await context.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    const queueArn = read.Attributes?.QueueArn;
    if (queueArn === undefined) throw new Error(`moto returned no ARN for queue ${name}`);
    return { physicalId: url, attributes: { Arn: queueArn, QueueName: name, QueueUrl: url } };
  },
};

/**
 * A RedrivePolicy as the JSON text SQS stores: `deadLetterTargetArn` and `maxReceiveCount` (a number).
 * Templates give it as an object (`maxReceiveCount` may be a string) or as JSON text.
 */
export function normalizeRedrivePolicy(value: unknown, fail: (detail: string) => Error): string {
  let policy: unknown = value;
  if (typeof value === 'string') {
    try {
      policy = JSON.parse(value);
    } catch {
      throw fail('is not valid JSON');
    }
  }
  if (!isRecord(policy)) throw fail(`expected an object, got ${JSON.stringify(value)}`);
  const target = policy.deadLetterTargetArn;
  const count = Number(policy.maxReceiveCount);
  if (typeof target !== 'string' || !target.startsWith('arn:aws:sqs:')) {
    throw fail(`deadLetterTargetArn must be an SQS queue ARN, got ${JSON.stringify(target)}`);
  }
  if (!Number.isInteger(count) || count < 1) {
    throw fail(`maxReceiveCount must be a positive integer, got ${JSON.stringify(policy.maxReceiveCount)}`);
  }
  return JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount: count });
}
