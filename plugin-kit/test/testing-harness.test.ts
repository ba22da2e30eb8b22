import { describe, expect, it } from 'vitest';
import {
  getOrchestratorSqsPassthrough,
  orchestratorWrapperSns,
  orchestratorWrapperSqs,
} from '../src/index.js';
import {
  createPluginMessage,
  InMemoryInbox,
  InMemoryStatusTable,
  runPlugin,
  TEST_PLUGIN_QUEUE_URL,
} from '../src/testing/index.js';
import { INFO } from './fixtures/plugin.js';

describe('runPlugin (testing harness)', () => {
  it('wraps a plain handler given its info and captures its reports in one line', async () => {
    const run = await runPlugin(async (message) => ({ uid: message.uid }), { info: INFO });

    expect(run.statuses).toEqual(['In Progress', 'Complete']);
    expect(run.result).toEqual({ uid: 'test-uid-1' });
  });

  it('refuses a plain handler without info', async () => {
    // @ts-expect-error: a plain handler needs options.info (a type error first, a clear error at run time too)
    const run = runPlugin(async () => 1);

    await expect(run).rejects.toThrow(/options\.info/);
  });

  it('delivers the message with the overrides applied and targeting the plugin', async () => {
    const handler = orchestratorWrapperSns(INFO, async (message) => message.metadata);

    const run = await runPlugin(handler, {
      message: { metadata: { customerId: 'c-9' }, activity: 'approve' },
    });

    expect(run.message).toMatchObject({
      activity: 'approve',
      plugins: [INFO.name],
      metadata: { customerId: 'c-9' },
    });
    expect(run.result).toEqual({ customerId: 'c-9' });
  });

  it("records the reports in the shared table like the orchestrator, so reruns see the plugin's state", async () => {
    const table = new InMemoryStatusTable();
    const handler = orchestratorWrapperSns(INFO, async () => ({ n: 1 }));

    await runPlugin(handler, { table });

    expect(table.pluginItem({ ...createPluginMessage(INFO.name), plugin: INFO.name })).toMatchObject({
      state: 'Complete',
      attempt: 1,
      result: { n: 1 },
    });
  });

  it('does not record reports when applyReports is false', async () => {
    const table = new InMemoryStatusTable();

    await runPlugin(
      orchestratorWrapperSns(INFO, async () => 1),
      { table, applyReports: false },
    );

    expect(table.pluginItem({ ...createPluginMessage(INFO.name), plugin: INFO.name })).toBeUndefined();
  });

  it('gives a queue bridge a test queue and shows its forwards apart from its reports', async () => {
    const run = await runPlugin(getOrchestratorSqsPassthrough(INFO));

    expect(run.forwarded.map((m) => m.queueUrl)).toEqual([TEST_PLUGIN_QUEUE_URL]);
    expect(run.statuses).toEqual(['In Progress']);
  });

  it('feeds an SQS wrapper with an SQS event and reports its batch item failures', async () => {
    const inbox = new InMemoryInbox({ fail: () => true });

    const run = await runPlugin(
      orchestratorWrapperSqs(INFO, async () => 1),
      { inbox },
    );

    expect(run.batchItemFailures).toEqual(['message-1']);
    expect(run.thrown).toBeUndefined();
  });

  it('refuses a delivery the handler cannot receive', async () => {
    const sns = await runPlugin(
      orchestratorWrapperSns(INFO, async () => 1),
      { delivery: 'sqs' },
    );
    const sqs = await runPlugin(
      orchestratorWrapperSqs(INFO, async () => 1),
      { delivery: 'sns' },
    );

    expect(sns.thrown).toBeInstanceOf(TypeError);
    expect(sqs.thrown).toBeInstanceOf(TypeError);
  });

  it('rejects overrides that would make an invalid plugin message', () => {
    expect(() => createPluginMessage(INFO.name, { uid: 'has # hash' })).toThrow(/uid/);
  });
});
