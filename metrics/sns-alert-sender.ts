/**
 * SNS adapter of the alert sender: one Publish per stuck run to the alerts topic. Message attributes
 * let subscribers filter (e.g. one team's workflows only).
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { StuckRunAlert } from './liveness.js';
import type { AlertSender } from './monitor.js';

export interface SnsAlertSenderOptions {
  readonly client: SNSClient;
  readonly topicArn: string;
  readonly deploymentStage: string;
}

/** Value of the `kind` message attribute of a stuck-run alert. */
export const STUCK_RUN_ALERT_KIND = 'run-stuck';

export class SnsAlertSender implements AlertSender {
  constructor(private readonly options: SnsAlertSenderOptions) {}

  async send(alert: StuckRunAlert): Promise<void> {
    const text = (value: string) => ({ DataType: 'String', StringValue: value });
    await this.options.client.send(
      new PublishCommand({
        TopicArn: this.options.topicArn,
        Subject: alert.subject,
        Message: alert.message,
        MessageAttributes: {
          kind: text(STUCK_RUN_ALERT_KIND),
          deploymentStage: text(this.options.deploymentStage),
          workflow: text(alert.workflow),
          uid: text(alert.uid),
        },
      }),
    );
  }
}
