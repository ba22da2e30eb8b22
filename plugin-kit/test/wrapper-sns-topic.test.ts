/**
 * The SNS wrapper processes only records of its stage topic: a direct invoke or another topic cannot
 * fake a dispatch (nothing runs, nothing is reported), while the initialize call is still answered.
 */
import { describe, expect, it } from 'vitest';
import { orchestratorWrapperSns } from '../src/index.js';
import { createPluginMessage, initializeEvent, snsEvent } from '../src/testing/index.js';
import { fakes, INFO } from './fixtures/plugin.js';

const STAGE_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:plugboard-dev-approve-order-parallel-topic';

function setUp() {
  const { inbox, logger, options } = fakes();
  let runs = 0;
  const handler = orchestratorWrapperSns(
    INFO,
    async () => {
      runs += 1;
      return { ok: true };
    },
    { ...options, stageTopicArn: STAGE_TOPIC },
  );
  return { handler, inbox, logger, runs: () => runs };
}

const fromTopic = (topicArn: string | undefined) => {
  const event = snsEvent([createPluginMessage(INFO.name)]);
  return {
    Records: event.Records.map((record) => ({
      ...record,
      Sns: { ...record.Sns, ...(topicArn ? { TopicArn: topicArn } : {}) },
    })),
  };
};

describe('orchestratorWrapperSns: only the stage topic dispatches', () => {
  it('runs and reports a record of its stage topic', async () => {
    const { handler, inbox, runs } = setUp();

    await handler(fromTopic(STAGE_TOPIC));

    expect(runs()).toBe(1);
    expect(inbox.messages.length).toBeGreaterThan(0);
  });

  it('refuses a record of another topic, or of none (a direct invoke), with a warning and no report', async () => {
    const { handler, inbox, logger, runs } = setUp();

    await handler(fromTopic('arn:aws:sns:eu-west-1:123456789012:someone-elses-topic'));
    await handler(fromTopic(undefined));

    expect(runs()).toBe(0);
    expect(inbox.messages).toEqual([]);
    expect(logger.entries.filter((e) => e.message.startsWith('message refused'))).toHaveLength(2);
  });

  it('still answers the initialize call', async () => {
    const { handler } = setUp();

    await expect(handler(initializeEvent())).resolves.toMatchObject({ name: INFO.name });
  });
});
