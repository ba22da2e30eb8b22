import { type MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { MessageSender, OutgoingMessage } from './ports.js';

/**
 * The default {@link MessageSender}: SQS `SendMessage` with the given client.
 *
 * @example
 * ```ts
 * const handler = orchestratorWrapperSns(info, run, {
 *   sender: sqsMessageSender(new SQSClient({ maxAttempts: 5 })),
 * });
 * ```
 */
export function sqsMessageSender(client: SQSClient = new SQSClient({})): MessageSender {
  return {
    async send(message: OutgoingMessage): Promise<void> {
      await client.send(
        new SendMessageCommand({
          QueueUrl: message.queueUrl,
          MessageBody: message.body,
          MessageGroupId: message.messageGroupId,
          MessageDeduplicationId: message.messageDeduplicationId,
          MessageAttributes: message.messageAttributes
            ? Object.fromEntries(
                Object.entries(message.messageAttributes).map(
                  ([name, value]): [string, MessageAttributeValue] => [
                    name,
                    { DataType: 'String', StringValue: value },
                  ],
                ),
              )
            : undefined,
        }),
      );
    },
  };
}
