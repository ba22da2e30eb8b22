import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Moves a message that can never be processed to the dead-letter queue at once, with the reason as
 * a message attribute, instead of letting it fail until the redrive policy moves it.
 */
export class SqsQuarantine {
  constructor(
    private readonly queueUrl: string,
    private readonly client: SQSClient,
  ) {}

  async quarantine(body: string, reason: string, origin: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: reason.slice(0, 1000) },
          origin: { DataType: 'String', StringValue: origin },
        },
      }),
    );
  }
}
