/**
 * Deadlines: the sweeper finds overdue plugins of active runs through the active-runs index and sends
 * timeout commands; the stage turns a timeout into a retry or `Timed Out`, and ignores a timeout for
 * an attempt that has reported or is over.
 */
import { describe, expect, it } from 'vitest';
import { type Command, STATES } from '../../../lambdas/contracts/index.js';
import { attemptsOf, type PluginRecord } from '../../../lambdas/engine/records.js';
import { applySignals } from '../../../lambdas/engine/reports.js';
import { retryPlugins } from '../../../lambdas/engine/retries.js';
import { sweepDeadlines, TIMEOUT_RESEND_SECONDS } from '../../../lambdas/engine/sweeper.js';
import {
  createHarness,
  deliverReport,
  drive,
  type EngineHarness,
  lastMessageFor,
  pluginKey,
  register,
  reportFor,
  runKey,
  stageKey,
  startRequest,
} from '../../support/engine-harness.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };
const silent = () => undefined;
type TimeoutCommand = Extract<Command, { kind: 'timeout' }>;

async function inFlight(h: EngineHarness, uid: string, maxAttempts?: number): Promise<void> {
  await drive(h, { start: startRequest(uid), plugins: { a: silent, b: silent }, sweep: false });
  expect(
    maxAttempts === undefined ||
      h.store.peekPlugin(pluginKey(uid, 'intake', 'parallel', 'a'))?.maxAttempts === maxAttempts,
  ).toBe(true);
}

async function arrange(h: EngineHarness, maxAttempts?: number): Promise<void> {
  for (const name of ['a', 'b']) {
    await register(h, {
      activity: 'intake',
      stage: 'parallel',
      name,
      ...(maxAttempts ? { maxAttempts } : {}),
    });
  }
}

function timeout(uid: string, plugin: string, attempt: number, generation = 1): TimeoutCommand {
  return {
    schemaVersion: 1,
    kind: 'timeout',
    workflow: 'reference',
    uid,
    generation,
    activity: 'intake',
    stage: 'parallel',
    plugin,
    attempt,
  };
}

const deliverTimeout = (h: EngineHarness, command: TimeoutCommand, redelivered = true) =>
  applySignals(h.deps, stageKey(command.uid, 'intake', 'parallel'), [{ kind: 'timeout', command }], {
    redelivered,
  });

describe('the deadline sweeper', () => {
  it('sends one timeout command per overdue plugin of an active run, naming its attempt', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);

    const result = await sweepDeadlines(h.deps);

    expect(result).toEqual({ runsChecked: 1, timeoutsSent: 2 });
    expect(h.commands.ofKind('timeout')).toEqual([timeout('u1', 'a', 1), timeout('u1', 'b', 1)]);
  });

  it('sends one timeout per attempt, not one per tick, and again after the resend interval', async () => {
    // While the first timeout waits in a backlogged inbox, later ticks must not queue more of them.
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);

    const ticks = [];
    for (let tick = 0; tick < 5; tick += 1) {
      ticks.push((await sweepDeadlines(h.deps)).timeoutsSent);
      h.clock.advanceSeconds(1);
    }
    h.clock.advanceSeconds(TIMEOUT_RESEND_SECONDS);
    ticks.push((await sweepDeadlines(h.deps)).timeoutsSent);

    expect(ticks).toEqual([2, 0, 0, 0, 0, 2]);
    expect(h.commands.ofKind('timeout')).toHaveLength(4);
  });

  it('sends nothing for a plugin whose deadline has not passed yet', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(60);

    const result = await sweepDeadlines(h.deps);

    expect(result).toEqual({ runsChecked: 1, timeoutsSent: 0 });
  });

  it('looks only at active runs, so plugins of a finished run are never timed out', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'done');
    await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Error', retryable: false }));
    await inFlight(h, 'active');
    h.clock.advanceSeconds(61);

    const result = await sweepDeadlines(h.deps);

    expect(h.store.peekRun(runKey('done'))?.state).toBe(STATES.error);
    expect(h.store.peekPlugin(pluginKey('done', 'intake', 'parallel', 'b'))?.state).toBe(STATES.inProgress);
    expect(result).toEqual({ runsChecked: 1, timeoutsSent: 2 });
    expect(h.commands.ofKind('timeout').map((c) => c.uid)).toEqual(['active', 'active']);
  });

  it('pages through the active runs of every workflow', async () => {
    const h = createHarness({ workflows: { reference: ['intake'], other: ['intake'] } });
    await arrange(h);
    for (const uid of ['u1', 'u2', 'u3']) await inFlight(h, uid);
    await drive(h, {
      start: startRequest('x1', { workflow: 'other' }),
      plugins: { a: silent, b: silent },
      sweep: false,
    });
    h.clock.advanceSeconds(61);

    const result = await sweepDeadlines(h.deps, { pageSize: 1 });

    expect(result).toEqual({ runsChecked: 4, timeoutsSent: 8 });
    expect(h.store.calls.filter((c) => c.method === 'listActiveRuns')).toHaveLength(4);
  });
});

describe('timeouts', () => {
  it('retry a plugin that has attempts left, with the timed-out and retrying events', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);

    const results = await deliverTimeout(h, timeout('u1', 'a', 1));

    expect(results).toEqual([{ outcome: 'retry-scheduled' }]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({
      state: STATES.notStarted,
      attempt: 1,
      message: 'no report within 60 s (attempt 1 of 3)',
    });
    expect(h.commands.sent.at(-1)).toMatchObject({
      delaySeconds: 2,
      command: { kind: 'retry', plugins: ['a'] },
    });
    expect(h.events.published.map((e) => e.type)).toEqual([
      'run.started',
      'plugin.timed-out',
      'plugin.retrying',
    ]);
  });

  it('time out a plugin on its last attempt, and a mandatory one fails the run', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h, 1);
    await inFlight(h, 'u1', 1);
    h.clock.advanceSeconds(61);

    await deliverTimeout(h, timeout('u1', 'a', 1));

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({
      state: STATES.timedOut,
      message: 'no report within 60 s (attempt 1 of 1)',
    });
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({
      state: STATES.error,
      message: 'intake/parallel: a: no report within 60 s (attempt 1 of 1)',
    });
    expect(h.commands.ofKind('retry')).toEqual([]);
  });

  it('are ignored for an attempt that already reported', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' }));
    const before = h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'));
    h.clock.advanceSeconds(61);

    const results = await deliverTimeout(h, timeout('u1', 'a', 1));

    expect(results).toEqual([{ outcome: 'ignored' }]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toEqual(before);
  });

  it('are ignored for an attempt that is over', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Error', retryable: true }));
    await retryPlugins(h.deps, h.commands.ofKind('retry'));
    h.clock.advanceSeconds(61);

    const results = await deliverTimeout(h, timeout('u1', 'a', 1));

    expect(results).toEqual([{ outcome: 'ignored' }]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({
      state: STATES.inProgress,
      attempt: 2,
    });
  });

  it('are ignored before the deadline has passed', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(59);

    const results = await deliverTimeout(h, timeout('u1', 'a', 1));

    expect(results).toEqual([{ outcome: 'ignored' }]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))?.state).toBe(STATES.inProgress);
  });

  it('change nothing when a second copy is delivered: one retry command, not one per copy', async () => {
    // The burst of issue 12: the sweeper sent a timeout on every tick while the first was queued,
    // and every copy became a retry command that dispatched the next attempt once more.
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);

    await deliverTimeout(h, timeout('u1', 'a', 1), false);
    await deliverTimeout(h, timeout('u1', 'a', 1), false);
    await deliverTimeout(h, timeout('u1', 'a', 1), false);

    expect(h.commands.ofKind('retry')).toHaveLength(1);
    expect(h.events.ofType('plugin.retrying')).toHaveLength(1);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({ attempt: 1 });
  });

  it('repeat only the retry command when the copy is a redelivery (its command may have been lost)', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);

    await deliverTimeout(h, timeout('u1', 'a', 1), false);
    await deliverTimeout(h, timeout('u1', 'a', 1), true);

    expect(h.commands.ofKind('retry')).toHaveLength(2);
    expect(h.events.ofType('plugin.retrying')).toHaveLength(2);
    expect(new Set(h.events.ofType('plugin.retrying').map((e) => e.eventId)).size).toBe(1);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({ attempt: 1 });
  });

  it('dispatch the retried attempt once however often its retry command is delivered', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);
    await deliverTimeout(h, timeout('u1', 'a', 1), false);
    const [retry] = h.commands.ofKind('retry');
    if (!retry) throw new Error('no retry command');
    const published = h.dispatcher.published.length;

    await retryPlugins(h.deps, [retry], { redelivered: false });
    await retryPlugins(h.deps, [retry], { redelivered: false });
    await retryPlugins(h.deps, [retry, retry], { redelivered: false });

    expect(h.dispatcher.published.length - published).toBe(1);
    expect(h.dispatcher.published.at(-1)?.message).toMatchObject({ plugins: ['a'], attempt: 2 });
    // A redelivered command (a crash may have lost the publish) publishes again; plugins dedupe by attempt.
    await retryPlugins(h.deps, [retry], { redelivered: true });
    expect(h.dispatcher.published.length - published).toBe(2);
  });
});

describe('a slow attempt after its timeout', () => {
  it('is accepted while its retry waits, and the retry then dispatches nothing', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61);
    await deliverTimeout(h, timeout('u1', 'a', 1));

    const results = await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' }));
    await retryPlugins(h.deps, h.commands.ofKind('retry'));

    expect(results).toEqual([{ outcome: 'applied' }]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({
      state: STATES.complete,
      attempt: 1,
    });
    expect(h.dispatcher.published).toHaveLength(1);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.mandatoryPending).toBe(1);
  });

  it('completes the plugin with the slow answer when it arrives after the timeout but before the retry', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'slow' });

    // deadline 10:01:00, swept at 10:01:01, retry due at 10:01:03; the answer comes at 10:01:02
    await drive(h, {
      start: startRequest('u1'),
      plugins: {
        slow: ({ attempt }) => (attempt === 1 ? { status: 'Complete', afterSeconds: 62 } : undefined),
      },
    });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'slow'))).toMatchObject({
      state: STATES.complete,
      attempt: 1,
    });
    expect(h.dispatcher.published.map((p) => p.message.attempt)).toEqual([1]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('is recorded as late once the retry was dispatched, and the retry completes the plugin', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'slow' });

    await drive(h, {
      start: startRequest('u1'),
      plugins: {
        slow: ({ attempt }) =>
          attempt === 1 ? { status: 'Complete', afterSeconds: 90 } : { status: 'Complete', afterSeconds: 5 },
      },
    });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'slow'))).toMatchObject({
      state: STATES.complete,
      attempt: 2,
      lateReports: 1,
    });
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });
});

describe("a plugin's attempt history", () => {
  it('keeps every attempt: an error, a timeout and the success, each once, with its message', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h, 3);
    await inFlight(h, 'u1', 3);
    const key = pluginKey('u1', 'intake', 'parallel', 'a');

    // Attempt 1 fails (delivered twice: one history entry), attempt 2 times out, attempt 3 completes.
    const failed = reportFor(lastMessageFor(h, 'a'), 'a', {
      status: 'Error',
      retryable: true,
      message: 'card service down',
    });
    await deliverReport(h, failed);
    await deliverReport(h, failed);
    await retryPlugins(h.deps, h.commands.ofKind('retry'));
    h.clock.advanceSeconds(400);
    await deliverTimeout(h, timeout('u1', 'a', 2));
    await deliverTimeout(h, timeout('u1', 'a', 2));
    await retryPlugins(
      h.deps,
      h.commands.ofKind('retry').filter((c) => c.attempt === 2),
    );
    await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete', message: 'charged' }),
    );

    const plugin = h.store.peekPlugin(key);
    expect(plugin).toMatchObject({ state: STATES.complete, attempt: 3 });
    const attempts = attemptsOf(plugin as PluginRecord);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.message])).toEqual([
      [1, STATES.error, 'card service down'],
      [2, STATES.timedOut, 'no report within 60 s (attempt 2 of 3)'],
      [3, STATES.complete, 'charged'],
    ]);
    for (const attempt of attempts) {
      expect(Date.parse(attempt.endedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(attempt.startedAt ?? ''));
    }
  });
});
