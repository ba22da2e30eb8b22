/** Realistic plugin messages and the Lambda events that carry them, for tests. */

import type { z } from 'zod';
import { type PluginMessage, pluginMessageSchema } from '../contracts/index.js';
import type { InitializeEvent, SnsEventLike, SqsEventLike } from '../runtime/events.js';

/** Fields to change in the default test message (any field of a plugin message). */
export type PluginMessageOverrides = Partial<z.input<typeof pluginMessageSchema>>;

/**
 * A valid plugin message that targets `plugin`: workflow `test-workflow`, uid `test-uid-1`,
 * generation 1, activity `test-activity`, stage `parallel`, attempt 1, a deadline 15 minutes after
 * `now`, empty metadata and a reply-to inbox URL. Overrides are validated like a real message.
 *
 * @example
 * ```ts
 * const message = createPluginMessage('check-credit', { metadata: { customerId: 'c-1' }, attempt: 2 });
 * ```
 */
export function createPluginMessage(
  plugin: string,
  overrides: PluginMessageOverrides = {},
  now: Date = new Date(),
): PluginMessage {
  const activity = overrides.activity ?? 'test-activity';
  const stage = overrides.stage ?? 'parallel';
  const deadline = new Date(now.getTime() + 15 * 60_000).toISOString();
  return pluginMessageSchema.parse({
    kind: 'plugin-task',
    workflow: 'test-workflow',
    uid: 'test-uid-1',
    generation: 1,
    activity,
    stage,
    plugins: [plugin],
    attempt: 1,
    dispatchedAt: now.toISOString(),
    deadlines: { [plugin]: deadline },
    metadata: {},
    replyTo: {
      queueUrl: `https://sqs.us-east-1.amazonaws.com/123456789012/plugboard-test-${activity}-${stage}-inbox`,
    },
    ...overrides,
  });
}

const text = (message: PluginMessage | string): string =>
  typeof message === 'string' ? message : JSON.stringify(message);

/**
 * An SNS Lambda event with one record per message.
 *
 * @example
 * ```ts
 * await handler(snsEvent([createPluginMessage('check-credit')]));
 * ```
 */
export function snsEvent(messages: ReadonlyArray<PluginMessage | string>): SnsEventLike {
  return {
    Records: messages.map((message, index) => ({
      Sns: { Message: text(message), MessageId: `sns-message-${index + 1}` },
    })),
  };
}

export interface SqsEventOptions {
  /** Wrap each body in an SNS notification envelope (an SNS→SQS subscription without raw delivery). */
  readonly envelope?: boolean;
  /** Make the event come from a FIFO queue. */
  readonly fifo?: boolean;
  /** String message attributes on every record. */
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * An SQS Lambda event with one record per message (ids `message-1`, `message-2`…).
 *
 * @example
 * ```ts
 * const response = await handler(sqsEvent([message], { envelope: true }));
 * ```
 */
export function sqsEvent(
  messages: ReadonlyArray<PluginMessage | string>,
  options: SqsEventOptions = {},
): SqsEventLike {
  const queue = options.fifo ? 'plugin-queue.fifo' : 'plugin-queue';
  return {
    Records: messages.map((message, index) => ({
      messageId: `message-${index + 1}`,
      body: options.envelope
        ? JSON.stringify({
            Type: 'Notification',
            MessageId: `sns-message-${index + 1}`,
            Message: text(message),
          })
        : text(message),
      eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queue}`,
      messageAttributes: Object.fromEntries(
        Object.entries(options.attributes ?? {}).map(([name, value]) => [
          name,
          { stringValue: value, dataType: 'String' },
        ]),
      ),
    })),
  };
}

/** The registrar's initialize call; `sns: true` gives the predecessor's SNS-shaped variant. */
export function initializeEvent(options: { readonly sns?: boolean } = {}): InitializeEvent | SnsEventLike {
  return options.sns ? { Records: [{ Sns: { Message: '{"initialize":true}' } }] } : { initialize: true };
}
