import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { LifecycleEvent } from '../contracts/index.js';
import type { EventPublisher } from '../engine/ports.js';

/** Announces lifecycle events on the events topic; `type` and `workflow` are attributes to filter on. */
export class SnsEventPublisher implements EventPublisher {
  constructor(
    private readonly topicArn: string,
    private readonly client: SNSClient,
  ) {}

  async publish(event: LifecycleEvent): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Message: JSON.stringify(event),
        MessageAttributes: {
          type: { DataType: 'String', StringValue: event.type },
          workflow: { DataType: 'String', StringValue: event.workflow },
        },
      }),
    );
  }
}
