/**
 * Plugin reports: In Progress is recorded; Complete stores the result; a retryable Error is retried
 * with exponential backoff (base × 2^(n−1), at most 900 s), re-targeting only that plugin, up to its
 * attempts; then, or on a non-retryable Error, the plugin is in Error.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS, STATES } from '../../../lambdas/contracts/index.js';
import { retryDelaySeconds } from '../../../lambdas/engine/config.js';
import { ValidationError } from '../../../lambdas/engine/errors.js';
import { applySignals } from '../../../lambdas/engine/reports.js';
import { retryPlugins } from '../../../lambdas/engine/retries.js';
import {
  createHarness,
  deliverReport,
  drive,
  type EngineHarness,
  failsAttempts,
  lastMessageFor,
  pluginKey,
  register,
  reportFor,
  runKey,
  SETTINGS,
  stageKey,
  startRequest,
} from '../../support/engine-harness.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };
const silent = () => undefined;

/** intake/parallel with `a`, `b`, `c` dispatched and silent. */
async function parallelInFlight(h: EngineHarness, maxAttempts?: number): Promise<void> {
  for (const name of ['a', 'b', 'c']) {
    await register(h, {
      activity: 'intake',
      stage: 'parallel',
      name,
      ...(maxAttempts ? { maxAttempts } : {}),
    });
  }
  await drive(h, { start: startRequest('u1'), plugins: { a: silent, b: silent, c: silent }, sweep: false });
}

const key = (plugin: string) => pluginKey('u1', 'intake', 'parallel', plugin);

describe('In Progress and Complete reports', () => {
  it('records an In Progress report with its message and dispatches nothing', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    h.clock.advanceSeconds(3);

    const results = await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'a'), 'a', { status: 'In Progress', message: 'halfway' }),
    );

    expect(results).toEqual([{ outcome: 'progress' }]);
    expect(h.store.peekPlugin(key('a'))).toMatchObject({
      state: STATES.inProgress,
      attempt: 1,
      message: 'halfway',
      updatedAt: '2026-11-23T10:00:03.000Z',
    });
    expect(h.dispatcher.published).toHaveLength(1);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.mandatoryPending).toBe(3);
  });

  it('stores the result of a Complete report, clears the deadline and counts the plugin down', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    h.clock.advanceSeconds(5);

    await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'a'), 'a', {
        status: 'Complete',
        result: { invoice: 'inv-9' },
        message: 'done',
      }),
    );

    const record = h.store.peekPlugin(key('a'));
    expect(record).toMatchObject({ state: STATES.complete, result: { invoice: 'inv-9' }, message: 'done' });
    expect(record).not.toHaveProperty('deadline');
    expect(record?.stateTimes[STATES.complete]).toBe('2026-11-23T10:00:05.000Z');
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.mandatoryPending).toBe(2);
  });

  it('keeps at most 1,000 characters of a plugin message', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);

    await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete', message: 'x'.repeat(5000) }),
    );

    const message = h.store.peekPlugin(key('a'))?.message ?? '';
    expect(message).toHaveLength(LIMITS.messageChars);
    expect(message.endsWith('…')).toBe(true);
  });
});

describe('Error reports and retries', () => {
  it('stores the PluginError code of a final failure as errorCode, beside its message', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    const report = reportFor(lastMessageFor(h, 'a'), 'a', {
      status: 'Error',
      retryable: false,
      message: 'no such customer',
    });

    await deliverReport(h, { ...report, code: 'NO_CUSTOMER' } as typeof report);

    expect(h.store.peekPlugin(key('a'))).toMatchObject({
      state: STATES.error,
      message: 'no such customer',
      errorCode: 'NO_CUSTOMER',
    });
  });

  it('schedules a retry of only the failed plugin, delayed by the base delay, on a retryable Error', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);

    const results = await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'b'), 'b', { status: 'Error', retryable: true, message: 'throttled' }),
    );

    expect(results).toEqual([{ outcome: 'retry-scheduled' }]);
    expect(h.store.peekPlugin(key('b'))).toMatchObject({
      state: STATES.notStarted,
      attempt: 1,
      message: 'throttled',
    });
    expect(h.store.peekPlugin(key('b'))).not.toHaveProperty('deadline');
    expect(h.commands.sent.filter((s) => s.command.kind === 'retry')).toEqual([
      expect.objectContaining({
        delaySeconds: SETTINGS.retryBaseSeconds,
        command: expect.objectContaining({ kind: 'retry', plugins: ['b'], attempt: 1, stage: 'parallel' }),
      }),
    ]);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.mandatoryPending).toBe(3);
  });

  it('dispatches the retry to that plugin alone, as the next attempt with a fresh deadline', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    await deliverReport(h, reportFor(lastMessageFor(h, 'b'), 'b', { status: 'Error', retryable: true }));
    h.clock.advanceSeconds(2);

    await retryPlugins(h.deps, h.commands.ofKind('retry'));

    expect(h.dispatcher.published.at(-1)?.message).toMatchObject({
      plugins: ['b'],
      attempt: 2,
      deadlines: { b: '2026-11-23T10:01:02.000Z' },
    });
    expect(h.dispatcher.published.at(-1)?.attributes.plugins?.StringValue).toBe('["b"]');
    expect(h.store.peekPlugin(key('b'))).toMatchObject({ state: STATES.inProgress, attempt: 2 });
  });

  it('backs off exponentially and, after the last attempt, fails the plugin and the run with its message', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'flaky', maxAttempts: 4 });

    await drive(h, { start: startRequest('u1'), plugins: { flaky: failsAttempts(4, 'still busy') } });

    expect(h.commands.sent.filter((s) => s.command.kind === 'retry').map((s) => s.delaySeconds)).toEqual([
      2, 4, 8,
    ]);
    expect(h.dispatcher.published.map((p) => p.message.attempt)).toEqual([1, 2, 3, 4]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'flaky'))).toMatchObject({
      state: STATES.error,
      attempt: 4,
      message: 'still busy',
    });
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({
      state: STATES.error,
      message: 'intake/pre: flaky: still busy',
    });
  });

  it('completes when a retry succeeds', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'flaky' });

    await drive(h, { start: startRequest('u1'), plugins: { flaky: failsAttempts(2) } });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'flaky'))).toMatchObject({
      state: STATES.complete,
      attempt: 3,
    });
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('caps the retry delay at 900 seconds, the most SQS can delay a message', async () => {
    const h = createHarness({
      workflows: { reference: ['intake'] },
      activities: { intake: { ...SETTINGS, retryBaseSeconds: 500, maxAttempts: 3 } },
    });
    await register(h, { activity: 'intake', stage: 'pre', name: 'flaky' });

    await drive(h, { start: startRequest('u1'), plugins: { flaky: failsAttempts(2) } });

    expect(h.commands.sent.filter((s) => s.command.kind === 'retry').map((s) => s.delaySeconds)).toEqual([
      500, 900,
    ]);
    expect(retryDelaySeconds({ ...SETTINGS, retryBaseSeconds: 2 }, 12)).toBe(900);
  });

  it("uses the plugin's own maxAttempts over the activity's", async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'once', maxAttempts: 1 });

    await drive(h, { start: startRequest('u1'), plugins: { once: failsAttempts(1) } });

    expect(h.commands.ofKind('retry')).toEqual([]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'once'))?.state).toBe(STATES.error);
  });

  it('fails the plugin at once on a non-retryable Error, with attempts left', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);

    await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Error', retryable: false }));

    expect(h.commands.ofKind('retry')).toEqual([]);
    expect(h.store.peekPlugin(key('a'))).toMatchObject({
      state: STATES.error,
      attempt: 1,
      message: 'the plugin reported an error',
    });
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.error);
  });
});

describe('duplicate, late and misaddressed reports', () => {
  it('treats a second identical report as a duplicate that changes nothing', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    const report = reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' });
    await deliverReport(h, report);
    const stage = h.store.peekStage(stageKey('u1', 'intake', 'parallel'));
    const plugin = h.store.peekPlugin(key('a'));

    const results = await deliverReport(h, report);

    expect(results).toEqual([{ outcome: 'duplicate' }]);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toEqual(stage);
    expect(h.store.peekPlugin(key('a'))).toEqual(plugin);
  });

  it('records a report of an attempt that is over as late', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    const first = lastMessageFor(h, 'a');
    await deliverReport(h, reportFor(first, 'a', { status: 'Error', retryable: true }));
    await retryPlugins(h.deps, h.commands.ofKind('retry'));

    const results = await deliverReport(h, reportFor(first, 'a', { status: 'Error', retryable: false }));

    expect(results).toEqual([{ outcome: 'late' }]);
    expect(h.store.peekPlugin(key('a'))).toMatchObject({
      state: STATES.inProgress,
      attempt: 2,
      lateReports: 1,
    });
    expect(h.observed.filter((o) => o.name === 'lateReport')).toHaveLength(1);
  });

  it('records a different report for a plugin that already finished as late', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' }));

    const results = await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Error' }));

    expect(results).toEqual([{ outcome: 'late' }]);
    expect(h.store.peekPlugin(key('a'))).toMatchObject({ state: STATES.complete, lateReports: 1 });
  });

  it('refuses a report from a plugin that has no execution in the stage', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);

    const results = deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'stranger', { status: 'Complete' }));

    await expect(results).rejects.toBeInstanceOf(ValidationError);
  });

  it('refuses a report for a stage that does not exist', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    const message = { ...lastMessageFor(h, 'a'), stage: 'post' as const };

    await expect(deliverReport(h, reportFor(message, 'a', { status: 'Complete' }))).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe('batches of reports', () => {
  it('applies a plugin only once when a batch carries its report twice', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    const report = reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' });

    const results = await applySignals(h.deps, stageKey('u1', 'intake', 'parallel'), [
      { kind: 'report', report },
      { kind: 'report', report },
    ]);

    expect(results).toEqual([{ outcome: 'applied' }, { outcome: 'duplicate' }]);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.mandatoryPending).toBe(2);
  });

  it('counts down a whole batch in one write and moves the stage on once', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await parallelInFlight(h);
    const message = lastMessageFor(h, 'a');
    const writesBefore = h.store.calls.filter((c) => c.method === 'recordFinalOutcomes').length;

    const results = await applySignals(
      h.deps,
      stageKey('u1', 'intake', 'parallel'),
      ['a', 'b', 'c'].map((name) => ({
        kind: 'report',
        report: reportFor(message, name, { status: 'Complete' }),
      })),
    );

    expect(results).toEqual([{ outcome: 'applied' }, { outcome: 'applied' }, { outcome: 'applied' }]);
    expect(h.store.calls.filter((c) => c.method === 'recordFinalOutcomes').length - writesBefore).toBe(1);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.state).toBe(STATES.complete);
    // The post stage (no plugins) was entered inline, once, and with it the run completed.
    expect(h.store.peekStage(stageKey('u1', 'intake', 'post'))).toMatchObject({ state: STATES.complete });
    expect(h.store.peekRun({ workflow: 'reference', uid: 'u1' })?.state).toBe(STATES.complete);
  });
});
