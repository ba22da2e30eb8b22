import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { PluginMessage } from '../contracts/index.js';
import { buildMessageAttributes } from '../engine/attributes.js';
import type { Dispatcher } from '../engine/ports.js';

/** Publishes plugin messages to one stage topic; the attributes carry the `plugins` targeting. */
export class SnsDispatcher implements Dispatcher {
  constructor(
    private readonly topicArn: string,
    private readonly client: SNSClient,
  ) {}

  async publish(message: PluginMessage): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Message: JSON.stringify(message),
        MessageAttributes: buildMessageAttributes(message),
      }),
    );
  }
}
