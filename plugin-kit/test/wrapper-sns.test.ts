import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidPluginInfoError,
  isReportDeliveryError,
  isUnsupportedEventError,
  LIMITS,
  OrchestratorError,
  orchestratorWrapperSns,
  type PluginContext,
  PluginError,
  pluginSk,
  reportSchema,
  runPk,
  type StatusItemStore,
  stageSk,
} from '../src/index.js';
import {
  createPluginMessage,
  InMemoryInbox,
  initializeEvent,
  recordingLogger,
  runPlugin,
  snsEvent,
} from '../src/testing/index.js';
import { clock, fakes, INFO, NOW } from './fixtures/plugin.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('orchestratorWrapperSns: reports', () => {
  it('reports In Progress, then Complete with the handler result', async () => {
    const handler = orchestratorWrapperSns(INFO, async (message) => ({ customer: message.uid, score: 720 }));

    const run = await runPlugin(handler, { now: clock, message: { attempt: 2 } });

    expect(run.statuses).toEqual(['In Progress', 'Complete']);
    expect(run.finalReport).toEqual({
      schemaVersion: 1,
      kind: 'report',
      workflow: 'test-workflow',
      uid: 'test-uid-1',
      generation: 1,
      activity: 'test-activity',
      stage: 'parallel',
      plugin: 'check-credit',
      attempt: 2,
      reportedAt: NOW.toISOString(),
      status: 'Complete',
      result: { customer: 'test-uid-1', score: 720 },
    });
    expect(run.outcome?.type).toBe('completed');
  });

  it('sends every report to the message replyTo queue as a report that satisfies reportSchema', async () => {
    const { inbox, options } = fakes();
    const handler = orchestratorWrapperSns(INFO, async () => 'done', options);
    const message = createPluginMessage(INFO.name, { replyTo: { queueUrl: 'https://sqs.test/inbox-x' } });

    await handler(snsEvent([message]));

    expect(inbox.messages.map((m) => m.queueUrl)).toEqual([
      'https://sqs.test/inbox-x',
      'https://sqs.test/inbox-x',
    ]);
    for (const sent of inbox.messages)
      expect(reportSchema.safeParse(JSON.parse(sent.body)).success).toBe(true);
  });

  it('reports Complete without a result when the handler returns nothing', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => undefined);

    const run = await runPlugin(handler);

    expect(run.finalReport?.status).toBe('Complete');
    expect(run.finalReport).not.toHaveProperty('result');
  });

  it('does not report In Progress when the PluginInfo turns it off', async () => {
    const handler = orchestratorWrapperSns({ ...INFO, reportInProgress: false }, async () => 1);

    const run = await runPlugin(handler);

    expect(run.statuses).toEqual(['Complete']);
  });

  it('reports a plain Error as retryable, with the message cut to LIMITS.messageChars', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new Error('x'.repeat(LIMITS.messageChars + 50));
    });

    const run = await runPlugin(handler);

    expect(run.statuses).toEqual(['In Progress', 'Error']);
    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: true });
    expect(run.finalReport?.message).toHaveLength(LIMITS.messageChars);
    expect(run.finalReport?.message?.endsWith('…')).toBe(true);
    expect(run.thrown).toBeUndefined();
  });

  it.each([
    ['OrchestratorError', () => new OrchestratorError('invoice rejected')],
    ['PluginError', () => new PluginError('invoice rejected', { code: 'REJECTED' })],
    ["the predecessor's { setStatus: true }", () => ({ setStatus: true, message: 'invoice rejected' })],
  ])('reports %s as a non-retryable Error and does not rethrow', async (_name, makeError) => {
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw makeError();
    });

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: false, message: 'invoice rejected' });
    expect(run.thrown).toBeUndefined();
  });

  it('reports a PluginError thrown by another copy of the kit as non-retryable (Symbol.for brand)', async () => {
    class ForeignPluginError extends Error {}
    Object.defineProperty(ForeignPluginError.prototype, Symbol.for('@plugboard/plugin-kit/PluginKitError'), {
      value: true,
    });
    Object.defineProperty(ForeignPluginError.prototype, Symbol.for('@plugboard/plugin-kit/PluginError'), {
      value: true,
    });
    Object.defineProperty(ForeignPluginError.prototype, 'retryable', { value: false });
    const handler = orchestratorWrapperSns(INFO, async () => {
      throw new ForeignPluginError('from a bundled copy');
    });

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: false });
  });

  it('reports a result larger than LIMITS.resultBytes as a non-retryable Error naming the limit', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => ({ blob: 'x'.repeat(LIMITS.resultBytes) }));

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: false });
    expect(run.finalReport?.message).toContain(
      `the limit is ${LIMITS.resultBytes} bytes (LIMITS.resultBytes)`,
    );
    expect(run.statuses).not.toContain('Complete');
  });

  it('accepts a result of exactly LIMITS.resultBytes', async () => {
    const padding = LIMITS.resultBytes - JSON.stringify({ blob: '' }).length;
    const handler = orchestratorWrapperSns(INFO, async () => ({ blob: 'x'.repeat(padding) }));

    const run = await runPlugin(handler);

    expect(run.finalReport?.status).toBe('Complete');
  });

  it('reports a result that is not JSON as a non-retryable Error', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => ({ big: 10n }));

    const run = await runPlugin(handler);

    expect(run.finalReport).toMatchObject({ status: 'Error', retryable: false });
    expect(run.finalReport?.message).toContain('cannot be serialized as JSON');
  });
});

describe('orchestratorWrapperSns: skip rules', () => {
  it('skips the second delivery of a message after the first completed', async () => {
    const work = vi.fn(async () => ({ ok: true }));
    const handler = orchestratorWrapperSns(INFO, work);
    const first = await runPlugin(handler);

    const second = await runPlugin(handler, { table: first.table });

    expect(work).toHaveBeenCalledTimes(1);
    expect(second.outcome).toMatchObject({ type: 'skipped', reason: 'the plugin is already Complete' });
    expect(second.reports).toEqual([]);
  });

  it('skips a stale delivery whose attempt is older than the recorded attempt', async () => {
    const work = vi.fn(async () => 'late');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler, {
      message: { attempt: 2 },
      status: { state: 'In Progress', attempt: 3 },
    });

    expect(work).not.toHaveBeenCalled();
    expect(run.outcome).toMatchObject({ type: 'skipped' });
    expect(run.outcome?.type === 'skipped' && run.outcome.reason).toContain('attempt 3');
    expect(run.reports).toEqual([]);
  });

  it('skips a delivery of an older run generation', async () => {
    const work = vi.fn(async () => 'old');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler, {
      message: { generation: 1 },
      status: { state: 'In Progress', generation: 2, attempt: 1 },
    });

    expect(work).not.toHaveBeenCalled();
    expect(run.outcome?.type === 'skipped' && run.outcome.reason).toContain('generation 2');
  });

  it('runs a new generation even when the previous generation reached a later attempt', async () => {
    const work = vi.fn(async () => 'rerun');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler, {
      message: { generation: 2, attempt: 1 },
      status: { state: 'Error', generation: 1, attempt: 3 },
    });

    expect(work).toHaveBeenCalledTimes(1);
    expect(run.finalReport?.status).toBe('Complete');
  });

  it('runs the current attempt when its record is In Progress (set at dispatch)', async () => {
    const work = vi.fn(async () => 'ok');
    const handler = orchestratorWrapperSns(INFO, work);

    await runPlugin(handler, { message: { attempt: 2 }, status: { state: 'In Progress', attempt: 2 } });

    expect(work).toHaveBeenCalledTimes(1);
  });

  it('skips a plugin marked Do Not Run without reporting', async () => {
    const work = vi.fn(async () => 'no');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler, { status: { state: 'Do Not Run' } });

    expect(work).not.toHaveBeenCalled();
    expect(run.outcome).toMatchObject({ type: 'skipped', reason: 'the plugin is marked Do Not Run' });
    expect(run.reports).toEqual([]);
  });

  it('runs when no status record exists', async () => {
    const work = vi.fn(async () => 'first');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler);

    expect(work).toHaveBeenCalledTimes(1);
    // Its stage's item (a narrow stage holds its plugins) and its own item (a wide stage's).
    expect(run.table.reads).toEqual([
      { operation: 'GetItem', consistentRead: true },
      { operation: 'GetItem', consistentRead: true },
    ]);
  });

  it('reads the status with consistent GetItems on the stage and plugin keys of the table layout', async () => {
    const requests: unknown[] = [];
    const store: StatusItemStore = {
      async getItem(request) {
        requests.push(request);
        return undefined;
      },
      async query() {
        throw new Error('not used');
      },
    };
    const { options } = fakes();
    const handler = orchestratorWrapperSns(INFO, async () => 1, { ...options, statusStore: store });
    const message = createPluginMessage(INFO.name, {
      workflow: 'orders',
      uid: 'o-1',
      activity: 'approve',
      stage: 'pre',
    });

    await handler(snsEvent([message]));

    expect(requests).toEqual([
      {
        tableName: 'status-table',
        key: { pk: runPk('orders', 'o-1'), sk: stageSk('approve', 'pre') },
        consistentRead: true,
      },
      {
        tableName: 'status-table',
        key: { pk: runPk('orders', 'o-1'), sk: pluginSk('approve', 'pre', INFO.name) },
        consistentRead: true,
      },
    ]);
  });

  it('runs an alwaysRun plugin although it is Complete, without reading the status', async () => {
    const work = vi.fn(async () => 'again');
    const handler = orchestratorWrapperSns({ ...INFO, alwaysRun: true }, work);

    const run = await runPlugin(handler, { status: { state: 'Complete' } });

    expect(work).toHaveBeenCalledTimes(1);
    expect(run.table.reads).toEqual([]);
    expect(run.statuses).toEqual(['In Progress', 'Complete']);
  });

  it('runs an idempotent: false plugin without any table access or table name', async () => {
    vi.stubEnv('PLUGBOARD_STATUS_TABLE', '');
    const store: StatusItemStore = {
      getItem: () => Promise.reject(new Error('must not read')),
      query: () => Promise.reject(new Error('must not read')),
    };
    const inbox = new InMemoryInbox();
    const work = vi.fn(async () => 'ran');
    const handler = orchestratorWrapperSns({ ...INFO, idempotent: false }, work, {
      sender: inbox,
      statusStore: store,
    });

    await handler(snsEvent([createPluginMessage(INFO.name)]));

    expect(work).toHaveBeenCalledTimes(1);
    expect(inbox.reports(createPluginMessage(INFO.name).replyTo.queueUrl).map((r) => r.status)).toEqual([
      'In Progress',
      'Complete',
    ]);
  });

  it('reports a retryable Error without running when the status cannot be read', async () => {
    const work = vi.fn(async () => 'x');
    const { inbox, options } = fakes();
    const failing: StatusItemStore = {
      getItem: () => Promise.reject(new Error('ProvisionedThroughputExceededException')),
      query: () => Promise.reject(new Error('unused')),
    };
    const handler = orchestratorWrapperSns(INFO, work, { ...options, statusStore: failing });
    const message = createPluginMessage(INFO.name);

    await handler(snsEvent([message]));

    expect(work).not.toHaveBeenCalled();
    const [report] = inbox.reports(message.replyTo.queueUrl);
    expect(report).toMatchObject({ status: 'Error', retryable: true });
    expect(report?.message).toContain('ProvisionedThroughputExceededException');
  });

  it('reports a non-retryable Error naming PLUGBOARD_STATUS_TABLE when it is not set', async () => {
    vi.stubEnv('PLUGBOARD_STATUS_TABLE', '');
    const { inbox, table } = fakes();
    const handler = orchestratorWrapperSns(INFO, async () => 'x', {
      sender: inbox,
      statusStore: table,
      logger: recordingLogger(),
    });
    const message = createPluginMessage(INFO.name);

    await handler(snsEvent([message]));

    const [report] = inbox.reports(message.replyTo.queueUrl);
    expect(report).toMatchObject({ status: 'Error', retryable: false });
    expect(report?.message).toContain('PLUGBOARD_STATUS_TABLE');
  });

  it('reads the table named by PLUGBOARD_STATUS_TABLE by default', async () => {
    vi.stubEnv('PLUGBOARD_STATUS_TABLE', 'plugboard-dev-status');
    const tables: string[] = [];
    const store: StatusItemStore = {
      async getItem(request) {
        tables.push(request.tableName);
        return undefined;
      },
      query: () => Promise.reject(new Error('unused')),
    };
    const handler = orchestratorWrapperSns(INFO, async () => 'x', {
      sender: new InMemoryInbox(),
      statusStore: store,
    });

    await handler(snsEvent([createPluginMessage(INFO.name)]));

    expect(new Set(tables)).toEqual(new Set(['plugboard-dev-status']));
  });

  it('ignores a message that targets other plugins: no read, no report, no run', async () => {
    const work = vi.fn(async () => 'x');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler, { message: { plugins: ['someone-else'] } });

    expect(work).not.toHaveBeenCalled();
    expect(run.outcome).toMatchObject({ type: 'ignored' });
    expect(run.table.reads).toEqual([]);
    expect(run.reports).toEqual([]);
  });

  it('logs and drops a record that is not a plugin message, without throwing', async () => {
    const { inbox, logger, options } = fakes();
    const work = vi.fn(async () => 'x');
    const handler = orchestratorWrapperSns(INFO, work, options);

    await expect(handler(snsEvent(['{"hello":"world"}', 'not json']))).resolves.toBeUndefined();

    expect(work).not.toHaveBeenCalled();
    expect(inbox.messages).toEqual([]);
    expect(logger.entries.filter((e) => e.level === 'error')).toHaveLength(2);
  });
});

describe('orchestratorWrapperSns: context', () => {
  it('gives the handler the attempt, generation, deadline and log keys of the message', async () => {
    let seen: PluginContext | undefined;
    const handler = orchestratorWrapperSns(INFO, async (_message, context) => {
      seen = context;
    });
    const deadline = '2026-11-23T10:05:00.000Z';

    await runPlugin(handler, {
      now: clock,
      message: { attempt: 3, generation: 2, deadlines: { [INFO.name]: deadline } },
      lambdaContext: { getRemainingTimeInMillis: () => 900_000 },
    });

    expect(seen?.attempt).toBe(3);
    expect(seen?.generation).toBe(2);
    expect(seen?.deadline?.toISOString()).toBe(deadline);
    expect(seen?.logKeys).toEqual({
      workflow: 'test-workflow',
      uid: 'test-uid-1',
      generation: 2,
      activity: 'test-activity',
      stage: 'parallel',
      plugin: INFO.name,
      attempt: 3,
    });
    expect(seen?.remainingTimeMs()).toBe(5 * 60_000);
  });

  it('limits remainingTimeMs by the Lambda timeout when it comes first', async () => {
    let remaining: number | undefined;
    const handler = orchestratorWrapperSns(INFO, async (_message, context) => {
      remaining = context.remainingTimeMs();
    });

    await runPlugin(handler, { now: clock, lambdaContext: { getRemainingTimeInMillis: () => 1_234 } });

    expect(remaining).toBe(1_234);
  });

  it('honours overrides[activity].mandatory in the context, and default.mandatory elsewhere', async () => {
    const seen: Record<string, boolean> = {};
    const handler = orchestratorWrapperSns(
      { ...INFO, default: { mandatory: true }, overrides: { 'ship-order': { mandatory: false } } },
      async (message, context) => {
        seen[message.activity] = context.mandatory;
      },
    );

    await runPlugin(handler, { message: { activity: 'ship-order' } });
    await runPlugin(handler, { message: { activity: 'approve-order' } });

    expect(seen).toEqual({ 'ship-order': false, 'approve-order': true });
  });

  it('logs through the context logger with the log keys on every line', async () => {
    const handler = orchestratorWrapperSns(INFO, async (_message, context) => {
      context.logger.info('scored', { score: 1 });
    });

    const run = await runPlugin(handler);

    const line = run.logs.find((entry) => entry.message === 'scored');
    expect(line?.fields).toMatchObject({ score: 1, uid: 'test-uid-1', plugin: INFO.name, attempt: 1 });
  });
});

describe('orchestratorWrapperSns: delivery failures', () => {
  it('throws (so Lambda retries) and does not run the handler when In Progress cannot be sent', async () => {
    const work = vi.fn(async () => 'x');
    const handler = orchestratorWrapperSns(INFO, work);

    const run = await runPlugin(handler, { inbox: new InMemoryInbox({ fail: () => true }) });

    expect(work).not.toHaveBeenCalled();
    expect(isReportDeliveryError(run.thrown)).toBe(true);
    expect(run.outcome).toMatchObject({ type: 'undelivered' });
  });

  it('throws when the Complete report cannot be sent', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => 'x');
    const inbox = new InMemoryInbox({ fail: (message) => message.body.includes('"status":"Complete"') });

    const run = await runPlugin(handler, { inbox });

    expect(run.statuses).toEqual(['In Progress']);
    expect(isReportDeliveryError(run.thrown)).toBe(true);
    expect(run.thrown).toHaveProperty('message', expect.stringContaining('Complete'));
  });

  it('throws UnsupportedEventError for an event that is neither SNS nor initialize', async () => {
    const handler = orchestratorWrapperSns(INFO, async () => 'x', fakes().options);

    const error = await handler({ Records: [{ body: '{}' }] } as never).catch((e: unknown) => e);

    expect(isUnsupportedEventError(error)).toBe(true);
  });
});

describe('orchestratorWrapperSns: initialize', () => {
  it.each([
    ['{"initialize": true}', initializeEvent()],
    ['the SNS-shaped initialize of the predecessor', initializeEvent({ sns: true })],
  ])('answers %s with the parsed PluginInfo and does nothing else', async (_shape, event) => {
    const { inbox, table, options } = fakes();
    const work = vi.fn(async () => 'x');
    const handler = orchestratorWrapperSns(INFO, work, options);

    const answer = await handler(event);

    expect(answer).toEqual({
      name: 'check-credit',
      default: { mandatory: true },
      overrides: {},
      order: 90,
      idempotent: true,
      alwaysRun: false,
      reportInProgress: true,
    });
    expect(work).not.toHaveBeenCalled();
    expect(inbox.messages).toEqual([]);
    expect(table.reads).toEqual([]);
  });

  it('refuses an invalid PluginInfo when the wrapper is created, listing every problem', () => {
    const create = () =>
      orchestratorWrapperSns({ name: 'bad name!', default: { mandatory: true }, order: -1 }, async () => 'x');

    expect(create).toThrow(InvalidPluginInfoError);
    expect(create).toThrow(/name \("bad name!"\): .*order: /s);
  });
});

// Two wrappers in one module, as a plugin package with two entry points would have them.
const scoreInbox = new InMemoryInbox();
const auditInbox = new InMemoryInbox();
const scoreHandler = orchestratorWrapperSns(
  { name: 'score', default: { mandatory: true } },
  async () => ({ score: 1 }),
  { ...fakes().options, sender: scoreInbox },
);
const auditHandler = orchestratorWrapperSns(
  { name: 'audit', default: { mandatory: false }, reportInProgress: false },
  async () => ({ audited: true }),
  { ...fakes().options, sender: auditInbox },
);

describe('orchestratorWrapperSns: several wrappers in one module', () => {
  it('keeps each wrapper its own info, options and reports', async () => {
    const message = createPluginMessage('score', { plugins: ['score', 'audit'] });

    await scoreHandler(snsEvent([message]));
    await auditHandler(snsEvent([message]));

    expect(await scoreHandler(initializeEvent())).toMatchObject({ name: 'score' });
    expect(await auditHandler(initializeEvent())).toMatchObject({ name: 'audit' });
    expect(scoreInbox.reports(message.replyTo.queueUrl).map((r) => [r.plugin, r.status])).toEqual([
      ['score', 'In Progress'],
      ['score', 'Complete'],
    ]);
    expect(auditInbox.reports(message.replyTo.queueUrl).map((r) => [r.plugin, r.status])).toEqual([
      ['audit', 'Complete'],
    ]);
  });

  it('gives withOptions a new handler and leaves the original untouched', async () => {
    const other = new InMemoryInbox();
    const rebound = scoreHandler.withOptions({ sender: other });
    const message = createPluginMessage('score', { uid: 'rebound-1' });

    await rebound(snsEvent([message]));

    expect(other.reports(message.replyTo.queueUrl)).toHaveLength(2);
    expect(scoreInbox.messages.some((m) => m.body.includes('rebound-1'))).toBe(false);
  });
});
