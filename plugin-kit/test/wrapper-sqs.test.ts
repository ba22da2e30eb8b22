import { describe, expect, it, vi } from 'vitest';
import { isUnsupportedEventError, orchestratorWrapperSqs, PluginError } from '../src/index.js';
import {
  createPluginMessage,
  InMemoryInbox,
  initializeEvent,
  runPlugin,
  snsEvent,
  sqsEvent,
} from '../src/testing/index.js';
import { fakes, INFO } from './fixtures/plugin.js';

describe('orchestratorWrapperSqs', () => {
  it.each([
    ['a raw message body', 'sqs'],
    ['an SNS notification envelope (raw delivery off)', 'sqs-envelope'],
  ] as const)('runs the handler for %s and reports In Progress, then Complete', async (_shape, delivery) => {
    const handler = orchestratorWrapperSqs(INFO, async (message) => ({ seen: message.uid }));

    const run = await runPlugin(handler, { delivery });

    expect(run.statuses).toEqual(['In Progress', 'Complete']);
    expect(run.result).toEqual({ seen: 'test-uid-1' });
    expect(run.batchItemFailures).toEqual([]);
  });

  it('returns only the records whose report could not be sent in batchItemFailures', async () => {
    const inbox = new InMemoryInbox({ fail: (message) => message.body.includes('"uid":"uid-2"') });
    const { options } = fakes({ inbox });
    const work = vi.fn(async () => 'ok');
    const handler = orchestratorWrapperSqs(INFO, work, options);
    const messages = ['uid-1', 'uid-2', 'uid-3'].map((uid) => createPluginMessage(INFO.name, { uid }));

    const response = await handler(sqsEvent(messages));

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-2' }] });
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('on a FIFO queue, also hands back every record after the first failure, unprocessed', async () => {
    const inbox = new InMemoryInbox({ fail: (message) => message.body.includes('"uid":"uid-1"') });
    const { options } = fakes({ inbox });
    const work = vi.fn(async () => 'ok');
    const handler = orchestratorWrapperSqs(INFO, work, options);
    const messages = ['uid-1', 'uid-2'].map((uid) => createPluginMessage(INFO.name, { uid }));

    const response = await handler(sqsEvent(messages, { fifo: true }));

    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: 'message-1' }, { itemIdentifier: 'message-2' }],
    });
    expect(work).not.toHaveBeenCalled();
  });

  it('does not hand back a record whose handler failed: the Error report is the outcome', async () => {
    const handler = orchestratorWrapperSqs(INFO, async () => {
      throw new PluginError('bad input');
    });

    const run = await runPlugin(handler);

    expect(run.batchItemFailures).toEqual([]);
    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: false, message: 'bad input' });
  });

  it('does not hand back a record that is not a plugin message (no retry can fix it)', async () => {
    const { options } = fakes();
    const handler = orchestratorWrapperSqs(INFO, async () => 'x', options);

    const response = await handler(sqsEvent(['{"nope":1}']));

    expect(response).toEqual({ batchItemFailures: [] });
  });

  it('skips its own In Progress report when the queue bridge already sent it', async () => {
    const handler = orchestratorWrapperSqs(INFO, async () => 'x');

    const run = await runPlugin(handler, { attributes: { plugboardInProgressReported: 'true' } });

    expect(run.statuses).toEqual(['Complete']);
  });

  it('skips a duplicate delivery after the first one completed', async () => {
    const work = vi.fn(async () => 'x');
    const handler = orchestratorWrapperSqs(INFO, work);
    const first = await runPlugin(handler);

    const second = await runPlugin(handler, { table: first.table });

    expect(work).toHaveBeenCalledTimes(1);
    expect(second.outcome?.type).toBe('skipped');
    expect(second.batchItemFailures).toEqual([]);
  });

  it.each([
    ['{"initialize": true}', initializeEvent()],
    ['the SNS-shaped initialize of the predecessor', initializeEvent({ sns: true })],
  ])('answers %s with the parsed PluginInfo', async (_shape, event) => {
    const { inbox, options } = fakes();
    const handler = orchestratorWrapperSqs(INFO, async () => 'x', options);

    const answer = await handler(event);

    expect(answer).toMatchObject({ name: INFO.name, default: { mandatory: true }, idempotent: true });
    expect(inbox.messages).toEqual([]);
  });

  it('throws UnsupportedEventError for an SNS event that is not the initialize call', async () => {
    const handler = orchestratorWrapperSqs(INFO, async () => 'x', fakes().options);

    const error = await handler(snsEvent([createPluginMessage(INFO.name)])).catch((e: unknown) => e);

    expect(isUnsupportedEventError(error)).toBe(true);
  });
});
