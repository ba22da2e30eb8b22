import type { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { lifecycleEvent } from '../../../lambdas/engine/events.js';
import {
  ConfigurationError,
  createEventPublisher,
  readCommonConfig,
} from '../../../lambdas/handlers/runtime-config.js';

const BASE_ENV = {
  PLUGBOARD_SYSTEM: 'plugboard',
  PLUGBOARD_DEPLOYMENT_STAGE: 'dev',
  PLUGBOARD_TABLE_NAME: 'status',
  PLUGBOARD_EVENTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:events',
  PLUGBOARD_INBOX_URL_TEMPLATE: 'https://sqs/123/plugboard-dev-{activity}-{stage}-inbox',
  PLUGBOARD_TOPIC_ARN_TEMPLATE: 'arn:aws:sns:us-east-1:123:plugboard-dev-{activity}-{stage}-topic',
  PLUGBOARD_CONFIG: JSON.stringify({ workflows: { order: ['intake'] }, activities: { intake: {} } }),
};

const event = lifecycleEvent(
  'run.started',
  { workflow: 'order', uid: 'o-1', generation: 1 },
  '2026-12-04T10:00:00.000Z',
);

function clients() {
  const sns: string[] = [];
  const bus: string[] = [];
  return {
    sns,
    bus,
    clients: {
      sns: {
        send: async (command: PublishCommand) => {
          sns.push(command.input.TopicArn ?? '');
          return {};
        },
      } as unknown as SNSClient,
      eventBridge: {
        send: async (command: PutEventsCommand) => {
          const entries = command.input.Entries ?? [];
          bus.push(...entries.map((e) => `${e.EventBusName}|${e.Source}|${e.DetailType}`));
          return { Entries: entries.map(() => ({ EventId: 'x' })), FailedEntryCount: 0 };
        },
      } as never,
    },
  };
}

describe('the event port the handlers build', () => {
  it('publishes to the SNS events topic only when no bus is configured', async () => {
    const common = readCommonConfig(BASE_ENV);
    const { sns, bus, clients: c } = clients();

    await createEventPublisher(common, c).publish(event);

    expect(common.eventBridge).toBeUndefined();
    expect(sns).toEqual([BASE_ENV.PLUGBOARD_EVENTS_TOPIC_ARN]);
    expect(bus).toEqual([]);
  });

  it('publishes to the topic and the bus, with the configured source, when the bus is configured', async () => {
    const common = readCommonConfig({
      ...BASE_ENV,
      PLUGBOARD_EVENT_BUS_NAME: 'plugboard-dev-events',
      PLUGBOARD_EVENT_SOURCE: 'plugboard.plugboard',
    });
    const { sns, bus, clients: c } = clients();

    await createEventPublisher(common, c).publish(event);

    expect(sns).toHaveLength(1);
    expect(bus).toEqual(['plugboard-dev-events|plugboard.plugboard|Plugboard Run Started']);
  });

  it('fails fast, naming the missing variable, when only one of the bus variables is set', () => {
    expect(() => readCommonConfig({ ...BASE_ENV, PLUGBOARD_EVENT_BUS_NAME: 'default' })).toThrow(
      new ConfigurationError(
        'Environment variable PLUGBOARD_EVENT_SOURCE is not set; the Plugboard construct sets it on deploy.',
      ),
    );
  });
});
