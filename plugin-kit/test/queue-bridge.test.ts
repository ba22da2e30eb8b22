import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  fifoDeduplicationId,
  getOrchestratorSqsPassthrough,
  isReportDeliveryError,
  orchestratorWrapperSqs,
  type SqsEventLike,
} from '../src/index.js';
import {
  createPluginMessage,
  InMemoryInbox,
  initializeEvent,
  runPlugin,
  snsEvent,
} from '../src/testing/index.js';
import { fakes, INFO } from './fixtures/plugin.js';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/check-credit';
const FIFO_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/check-credit.fifo';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('getOrchestratorSqsPassthrough', () => {
  it('reports In Progress and forwards the message unchanged to the plugin queue', async () => {
    const bridge = getOrchestratorSqsPassthrough(INFO, QUEUE);

    const run = await runPlugin(bridge);

    expect(run.statuses).toEqual(['In Progress']);
    expect(run.forwarded).toHaveLength(1);
    expect(run.forwarded[0]).toEqual({
      queueUrl: QUEUE,
      body: JSON.stringify(run.message),
      messageAttributes: { plugboardInProgressReported: 'true' },
    });
    expect(run.outcome).toMatchObject({ type: 'forwarded', queueUrl: QUEUE });
  });

  it('sends no FIFO fields to a standard queue', async () => {
    const run = await runPlugin(getOrchestratorSqsPassthrough(INFO, QUEUE));

    expect(run.forwarded[0]).not.toHaveProperty('messageGroupId');
    expect(run.forwarded[0]).not.toHaveProperty('messageDeduplicationId');
  });

  it("groups FIFO messages by the run's uid and sends a deterministic deduplication id", async () => {
    const bridge = getOrchestratorSqsPassthrough(INFO, FIFO_QUEUE);

    const run = await runPlugin(bridge, { message: { uid: 'order-42', attempt: 2 } });

    const expectedId = createHash('sha256')
      .update(JSON.stringify(['test-workflow', 'order-42', 1, 'test-activity', 'parallel', INFO.name, 2]))
      .digest('hex');
    expect(run.forwarded[0]).toMatchObject({
      messageGroupId: 'order-42',
      messageDeduplicationId: expectedId,
    });
  });

  it('uses info.fifoKey as the FIFO group when set', async () => {
    const bridge = getOrchestratorSqsPassthrough({ ...INFO, fifoKey: 'one-at-a-time' }, FIFO_QUEUE);

    const run = await runPlugin(bridge);

    expect(run.forwarded[0]?.messageGroupId).toBe('one-at-a-time');
  });

  it('gives a duplicate delivery the same deduplication id and a new attempt another one', () => {
    const first = createPluginMessage(INFO.name, { attempt: 1 });
    const retry = createPluginMessage(INFO.name, { attempt: 2 });
    const longUid = createPluginMessage(INFO.name, { uid: `u${'x'.repeat(127)}` });

    expect(fifoDeduplicationId(first, INFO.name)).toBe(fifoDeduplicationId({ ...first }, INFO.name));
    expect(fifoDeduplicationId(retry, INFO.name)).not.toBe(fifoDeduplicationId(first, INFO.name));
    expect(fifoDeduplicationId(longUid, INFO.name).length).toBeLessThanOrEqual(128);
  });

  it('applies the skip rules: a Complete plugin is neither reported nor forwarded', async () => {
    const run = await runPlugin(getOrchestratorSqsPassthrough(INFO, QUEUE), {
      status: { state: 'Complete' },
    });

    expect(run.reports).toEqual([]);
    expect(run.forwarded).toEqual([]);
    expect(run.outcome?.type).toBe('skipped');
  });

  it('throws so that SNS retries when the forward fails', async () => {
    const inbox = new InMemoryInbox({ fail: (message) => message.queueUrl === QUEUE });

    const run = await runPlugin(getOrchestratorSqsPassthrough(INFO, QUEUE), { inbox });

    expect(isReportDeliveryError(run.thrown)).toBe(true);
  });

  it('forwards to PLUGBOARD_PLUGIN_QUEUE_URL when no queue URL is given', async () => {
    vi.stubEnv('PLUGBOARD_PLUGIN_QUEUE_URL', QUEUE);
    const { inbox, options } = fakes();
    const bridge = getOrchestratorSqsPassthrough(INFO, undefined, options);

    await bridge(snsEvent([createPluginMessage(INFO.name)]));

    expect(inbox.sentTo(QUEUE)).toHaveLength(1);
  });

  it('reports a non-retryable Error naming PLUGBOARD_PLUGIN_QUEUE_URL when there is no queue', async () => {
    vi.stubEnv('PLUGBOARD_PLUGIN_QUEUE_URL', '');
    const { inbox, options } = fakes();
    const bridge = getOrchestratorSqsPassthrough(INFO, undefined, options);
    const message = createPluginMessage(INFO.name);

    await bridge(snsEvent([message]));

    const final = inbox.reports(message.replyTo.queueUrl).at(-1);
    expect(final).toMatchObject({ status: 'Error', retryable: false });
    expect(final?.message).toContain('PLUGBOARD_PLUGIN_QUEUE_URL');
  });

  it.each([
    ['{"initialize": true}', initializeEvent()],
    ['the SNS-shaped initialize of the predecessor', initializeEvent({ sns: true })],
  ])('answers %s with the parsed PluginInfo', async (_shape, event) => {
    const { inbox, options } = fakes();

    const answer = await getOrchestratorSqsPassthrough(INFO, QUEUE, options)(event);

    expect(answer).toMatchObject({ name: INFO.name, order: 90 });
    expect(inbox.messages).toEqual([]);
  });

  it('hands the consumer a message it runs with one In Progress report in all', async () => {
    const { inbox, table, options } = fakes();
    const bridge = getOrchestratorSqsPassthrough(INFO, QUEUE, options);
    const consumer = orchestratorWrapperSqs(INFO, async () => ({ done: true }), options);
    const message = createPluginMessage(INFO.name);

    await bridge(snsEvent([message]));
    const [forwarded] = inbox.sentTo(QUEUE);
    const queued: SqsEventLike = {
      Records: [
        {
          messageId: 'q-1',
          body: forwarded?.body ?? '',
          messageAttributes: Object.fromEntries(
            Object.entries(forwarded?.messageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v }]),
          ),
        },
      ],
    };
    const response = await consumer(queued);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(inbox.reports(message.replyTo.queueUrl).map((r) => r.status)).toEqual(['In Progress', 'Complete']);
    // Bridge and consumer each read the status: the stage's item and the plugin's own item.
    expect(table.reads).toHaveLength(4);
  });
});
