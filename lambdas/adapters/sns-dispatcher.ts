import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { PluginMessage, StageName } from '../contracts/index.js';
import { buildMessageAttributes } from '../engine/attributes.js';
import type { Dispatcher } from '../engine/ports.js';

/**
 * Publishes plugin messages to the topic of their stage (any stage: the orchestrator that completes a
 * stage dispatches the next one); the attributes carry the `plugins` targeting.
 */
export class SnsDispatcher implements Dispatcher {
  constructor(
    private readonly topicArn: (activity: string, stage: StageName) => string,
    private readonly client: SNSClient,
  ) {}

  async publish(message: PluginMessage): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn(message.activity, message.stage),
        Message: JSON.stringify(message),
        MessageAttributes: buildMessageAttributes(message),
      }),
    );
  }
}
