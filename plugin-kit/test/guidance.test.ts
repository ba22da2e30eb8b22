/**
 * The runtime guides its users: a `PluginError.code` reaches the report and the log line, a message
 * for other plugins is logged with how to register, and `runPlugin` drives bridge → consumer in one call.
 */
import { describe, expect, it } from 'vitest';
import {
  createStatusReader,
  getOrchestratorSqsPassthrough,
  OrchestratorError,
  orchestratorWrapperSns,
  orchestratorWrapperSqs,
  PluginError,
  reportSchema,
} from '../src/index.js';
import {
  InMemoryStatusTable,
  runPlugin,
  TEST_PLUGIN_QUEUE_URL,
  TEST_STATUS_TABLE,
} from '../src/testing/index.js';
import { INFO } from './fixtures/plugin.js';

describe('PluginError.code', () => {
  it('is sent with the Error report and logged with the failure', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new PluginError('order has no customerId', { code: 'NO_CUSTOMER' });
    });

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: false, code: 'NO_CUSTOMER' });
    expect(run.outcome).toMatchObject({ type: 'failed', code: 'NO_CUSTOMER' });
    const failure = run.logs.find((entry) => entry.message === 'the plugin failed; reporting Error');
    expect(failure?.fields).toMatchObject({ code: 'NO_CUSTOMER', retryable: false });
  });

  it('is read back by the status reader once the orchestrator stored it', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new PluginError('order has no customerId', { code: 'NO_CUSTOMER' });
    });
    const run = await runPlugin(handler);

    const status = await createStatusReader({ store: run.table, tableName: TEST_STATUS_TABLE }).getPlugin({
      ...run.message,
      plugin: INFO.name,
    });

    expect(status).toMatchObject({ state: 'Error', errorCode: 'NO_CUSTOMER' });
  });

  it('is carried by the predecessor’s OrchestratorError too', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new OrchestratorError('invoice rejected', { code: 'INVOICE_REJECTED' });
    });

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', code: 'INVOICE_REJECTED' });
  });

  it('is left out (with a warning naming the rule) when it does not fit a report, which is still sent', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new PluginError('bad', { code: 'has spaces in it' });
    });

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', message: 'bad' });
    expect(run.finalReport).not.toHaveProperty('code');
    expect(run.logs.some((entry) => /PluginError\.code is left out.*1-64 letters/.test(entry.message))).toBe(
      true,
    );
  });

  it('is absent from reports of errors without one', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new Error('flaky');
    });

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: true });
    expect(run.finalReport).not.toHaveProperty('code');
  });

  it('keeps reports without a code valid (older kits) and refuses a malformed one', () => {
    const base = {
      kind: 'report',
      workflow: 'order',
      uid: 'u-1',
      generation: 1,
      activity: 'approve',
      stage: 'parallel',
      plugin: 'p',
      attempt: 1,
      reportedAt: '2026-12-04T00:00:00.000Z',
      status: 'Error',
    };

    expect(reportSchema.safeParse(base).success).toBe(true);
    expect(reportSchema.safeParse({ ...base, code: 'NO_CUSTOMER' }).success).toBe(true);
    expect(reportSchema.safeParse({ ...base, code: 'no spaces please' }).success).toBe(false);
  });
});

describe('a message for other plugins', () => {
  it('is logged with how to register the plugin', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => 'x');

    const run = await runPlugin(handler, { message: { plugins: ['someone-else'] } });

    const line = run.logs.find((entry) => entry.message === 'ignoring a message for other plugins');
    expect(line?.fields?.hint).toMatch(
      /register it: a subscription alone does not register a plugin\. Use OrchestratorPlugin .* Custom::PlugboardPluginRegistration .*\{"plugins": \["check-credit"\]\}/,
    );
  });
});

describe('runPlugin with a queue bridge and its consumer', () => {
  const bridge = getOrchestratorSqsPassthrough(INFO);
  const consumer = orchestratorWrapperSqs(INFO, async (message) => ({ rendered: message.uid }));

  it('runs bridge then consumer in one call: one In Progress (the bridge’s), then Complete', async () => {
    const run = await runPlugin(bridge, { consumer });

    expect(run.statuses).toEqual(['In Progress', 'Complete']);
    expect(run.result).toEqual({ rendered: 'test-uid-1' });
    expect(run.outcomes.map((outcome) => outcome.type)).toEqual(['forwarded', 'completed']);
    expect(run.forwarded).toEqual([expect.objectContaining({ queueUrl: TEST_PLUGIN_QUEUE_URL })]);
    expect(run.table.pluginItem({ ...run.message, plugin: INFO.name })).toMatchObject({ state: 'Complete' });
  });

  it('reports In Progress from the consumer when the bridge did not', async () => {
    const quietInfo = { ...INFO, reportInProgress: false };
    const run = await runPlugin(getOrchestratorSqsPassthrough(quietInfo), {
      consumer: orchestratorWrapperSqs(quietInfo, async () => undefined),
    });

    expect(run.statuses).toEqual(['Complete']);
  });

  it('does not reach the consumer when the bridge skips the message', async () => {
    const table = new InMemoryStatusTable();
    const first = await runPlugin(bridge, { consumer, table });

    const second = await runPlugin(bridge, { consumer, table: first.table });

    expect(second.outcomes.map((outcome) => outcome.type)).toEqual(['skipped']);
    expect(second.reports).toEqual([]);
  });

  it('refuses a consumer of another plugin, and a consumer without a bridge', async () => {
    const other = orchestratorWrapperSqs({ name: 'other', default: { mandatory: true } }, async () => 1);

    await expect(runPlugin(bridge, { consumer: other })).rejects.toThrow(
      /consumer's PluginInfo names "other" but the bridge's names "check-credit"/,
    );
    await expect(
      runPlugin(
        orchestratorWrapperSns(INFO, async () => 1),
        { consumer },
      ),
    ).rejects.toThrow(/chains a consumer after a queue bridge/);
  });
});
