/**
 * Builders of the events Lambda hands to functions, in the shapes AWS documents: SQS batches, SNS
 * notifications (from the envelope SNS writes to an SQS subscriber) and EventBridge scheduled events.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from '@aws-sdk/client-sqs';
import type { ScheduledEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { z } from 'zod';

/** An SQS message as Lambda puts it into `Records[]`. */
export function sqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const system = message.Attributes ?? {};
  const attributes: SQSRecord['attributes'] = {
    ApproximateReceiveCount: system.ApproximateReceiveCount ?? '1',
    SentTimestamp: system.SentTimestamp ?? String(Date.now()),
    SenderId: system.SenderId ?? 'AIDAIENQZJOLO23YVJ4VO',
    ApproximateFirstReceiveTimestamp: system.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
  };
  for (const key of [
    'AWSTraceHeader',
    'SequenceNumber',
    'MessageGroupId',
    'MessageDeduplicationId',
  ] as const) {
    const value = system[key];
    if (value !== undefined) attributes[key] = value;
  }
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
    };
  }
  return {
    messageId: message.MessageId ?? randomUUID(),
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes !== undefined
      ? { md5OfMessageAttributes: message.MD5OfMessageAttributes }
      : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

const envelopeSchema = z.object({
  Type: z.string(),
  MessageId: z.string(),
  TopicArn: z.string(),
  Subject: z.string().nullish(),
  Message: z.string(),
  Timestamp: z.string(),
  SignatureVersion: z.string().optional(),
  Signature: z.string().optional(),
  SigningCertURL: z.string().optional(),
  UnsubscribeURL: z.string().optional(),
  MessageAttributes: z.record(z.string(), z.object({ Type: z.string(), Value: z.string() })).optional(),
});

/** A record of an SNS event, as Lambda delivers it (`Subject` is null when the publish had none). */
export interface SnsEventRecord {
  readonly EventSource: 'aws:sns';
  readonly EventVersion: '1.0';
  readonly EventSubscriptionArn: string;
  readonly Sns: {
    readonly Type: string;
    readonly MessageId: string;
    readonly TopicArn: string;
    readonly Subject: string | null;
    readonly Message: string;
    readonly Timestamp: string;
    readonly SignatureVersion: string;
    readonly Signature: string;
    readonly SigningCertUrl: string;
    readonly UnsubscribeUrl: string;
    readonly MessageAttributes: Readonly<Record<string, { readonly Type: string; readonly Value: string }>>;
  };
}

export interface SnsEvent {
  readonly Records: readonly SnsEventRecord[];
}

/**
 * Turns the JSON envelope SNS delivers to an SQS subscriber (raw delivery off) into the event SNS
 * gives a Lambda subscriber. Returns `undefined` when the body is not an SNS notification envelope.
 */
export function snsEventFromEnvelope(body: string, subscriptionArn: string): SnsEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const envelope = parsed.data;
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: subscriptionArn,
        Sns: {
          Type: envelope.Type,
          MessageId: envelope.MessageId,
          TopicArn: envelope.TopicArn,
          Subject: envelope.Subject ?? null,
          Message: envelope.Message,
          Timestamp: envelope.Timestamp,
          SignatureVersion: envelope.SignatureVersion ?? '1',
          Signature: envelope.Signature ?? '',
          SigningCertUrl: envelope.SigningCertURL ?? '',
          UnsubscribeUrl: envelope.UnsubscribeURL ?? '',
          MessageAttributes: envelope.MessageAttributes ?? {},
        },
      },
    ],
  };
}

/** The event EventBridge sends a target when a schedule rule fires. */
export function scheduledEvent(
  ruleArn: string,
  region: string,
  accountId: string,
  time: Date,
): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: accountId,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [ruleArn],
    detail: {},
  };
}
