import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Command, StageName } from '../contracts/index.js';
import type { CommandBus } from '../engine/ports.js';

/** Sends engine commands to the inbox of the stage they address. */
export class SqsCommandBus implements CommandBus {
  constructor(
    private readonly inboxUrl: (activity: string, stage: StageName) => string,
    private readonly client: SQSClient,
  ) {}

  async send(command: Command, options: { readonly delaySeconds?: number } = {}): Promise<void> {
    const delay = Math.max(0, Math.min(900, Math.round(options.delaySeconds ?? 0)));
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.inboxUrl(command.activity, command.stage),
        MessageBody: JSON.stringify(command),
        ...(delay > 0 ? { DelaySeconds: delay } : {}),
      }),
    );
  }
}
