/**
 * The Lambda events the wrappers accept, as small structural types (the `aws-lambda` types fit them,
 * but the kit does not depend on them), and how a plugin message is taken out of each.
 */
import { z } from 'zod';

/** The registrar's initialize call: answer with the plugin's `PluginInfo`. */
export interface InitializeEvent {
  readonly initialize: true;
}

export interface SnsRecordLike {
  readonly Sns: { readonly Message: string; readonly MessageId?: string };
}

/** An SNS-triggered Lambda event (`aws-lambda`'s `SNSEvent` fits it). */
export interface SnsEventLike {
  readonly Records: readonly SnsRecordLike[];
}

export interface SqsMessageAttributeLike {
  readonly stringValue?: string;
  readonly dataType?: string;
}

export interface SqsRecordLike {
  readonly messageId: string;
  readonly body: string;
  readonly eventSourceARN?: string;
  readonly messageAttributes?: Readonly<Record<string, SqsMessageAttributeLike>>;
}

/** An SQS-triggered Lambda event (`aws-lambda`'s `SQSEvent` fits it). */
export interface SqsEventLike {
  readonly Records: readonly SqsRecordLike[];
}

/** The partial batch response of an SQS consumer (needs `reportBatchItemFailures` on the event source). */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The parts of the Lambda context the kit uses (`aws-lambda`'s `Context` fits it). */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

/** One plugin message as delivered: an id for logs and batch failures, and the message's JSON text. */
export interface Delivery {
  readonly id: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Message attribute the queue bridge sets when it has already reported `In Progress`. */
export const IN_PROGRESS_REPORTED_ATTRIBUTE = 'plugboardInProgressReported';

const initializeSchema = z.object({ initialize: z.literal(true) });
const snsEventSchema = z.object({
  Records: z.array(z.object({ Sns: z.object({ Message: z.string(), MessageId: z.string().optional() }) })),
});
const sqsEventSchema = z.object({
  Records: z.array(
    z.object({
      messageId: z.string(),
      body: z.string(),
      eventSourceARN: z.string().optional(),
      messageAttributes: z.record(z.string(), z.object({ stringValue: z.string().optional() })).optional(),
    }),
  ),
});
const snsEnvelopeSchema = z.object({ Type: z.literal('Notification'), Message: z.string() });

/**
 * Whether the event is the registrar's initialize call: `{"initialize": true}`, or the predecessor's
 * SNS-shaped one whose only record carries `{"initialize":true}` as its message.
 */
export function isInitializeEvent(event: unknown): boolean {
  if (initializeSchema.safeParse(event).success) return true;
  const sns = snsEventSchema.safeParse(event);
  if (!sns.success || sns.data.Records.length !== 1) return false;
  const message = sns.data.Records[0]?.Sns.Message;
  return message !== undefined && initializeSchema.safeParse(parseJson(message)).success;
}

/** The messages of an SNS event, or `undefined` when the event is not one. */
export function snsDeliveries(event: unknown): Delivery[] | undefined {
  const parsed = snsEventSchema.safeParse(event);
  if (!parsed.success) return undefined;
  return parsed.data.Records.map((record, index) => ({
    id: record.Sns.MessageId ?? `record-${index}`,
    body: record.Sns.Message,
    attributes: {},
  }));
}

export interface SqsDeliveries {
  readonly fifo: boolean;
  readonly deliveries: Delivery[];
}

/**
 * The messages of an SQS event, or `undefined` when the event is not one. A body that is an SNS
 * notification envelope (raw message delivery off) is unwrapped to the message it carries.
 */
export function sqsDeliveries(event: unknown): SqsDeliveries | undefined {
  const parsed = sqsEventSchema.safeParse(event);
  if (!parsed.success) return undefined;
  return {
    fifo: parsed.data.Records.some((record) => record.eventSourceARN?.endsWith('.fifo') ?? false),
    deliveries: parsed.data.Records.map((record) => ({
      id: record.messageId,
      body: unwrapEnvelope(record.body),
      attributes: Object.fromEntries(
        Object.entries(record.messageAttributes ?? {}).flatMap(([name, value]) =>
          value.stringValue === undefined ? [] : [[name, value.stringValue]],
        ),
      ),
    })),
  };
}

function unwrapEnvelope(body: string): string {
  const envelope = snsEnvelopeSchema.safeParse(parseJson(body));
  return envelope.success ? envelope.data.Message : body;
}

/** JSON.parse that returns `undefined` for text that is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
