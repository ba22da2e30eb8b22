/**
 * Operator overrides: cancelling a run stops it advancing; skipping a plugin that has not started
 * takes it out of its stage; running and finished plugins cannot be skipped.
 */
import { describe, expect, it } from 'vitest';
import { STATES } from '../../../lambdas/contracts/index.js';
import { UnknownRunError, ValidationError } from '../../../lambdas/engine/errors.js';
import { cancelRun, skipPlugin } from '../../../lambdas/engine/operator.js';
import { startStage } from '../../../lambdas/engine/progress.js';
import { retryPlugins } from '../../../lambdas/engine/retries.js';
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

/** intake: pre `first`, `second`; parallel `a`, `b`; post `recorder`. */
async function arrange(h: EngineHarness): Promise<void> {
  await register(
    h,
    { activity: 'intake', stage: 'pre', name: 'first', order: 1 },
    { activity: 'intake', stage: 'pre', name: 'second', order: 2 },
    { activity: 'intake', stage: 'parallel', name: 'a' },
    { activity: 'intake', stage: 'parallel', name: 'b' },
    { activity: 'intake', stage: 'post', name: 'recorder' },
  );
}

describe('cancelling a run', () => {
  it('stops the run: later reports are recorded as late and change nothing, and nothing is dispatched after', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { a: silent, b: silent }, sweep: false });
    const published = h.dispatcher.published.length;
    const sent = h.commands.sent.length;
    h.clock.advanceSeconds(10);

    const cancelled = await cancelRun(h.deps, runKey('u1'), 'customer withdrew');
    const message = lastMessageFor(h, 'a');
    const results = [
      ...(await deliverReport(h, reportFor(message, 'a', { status: 'Complete' }))),
      ...(await deliverReport(h, reportFor(message, 'b', { status: 'Error', retryable: true }))),
    ];
    await drive(h, { sweep: false });

    expect(cancelled).toMatchObject({
      state: STATES.cancelled,
      message: 'customer withdrew',
      endedAt: '2026-11-23T10:00:10.000Z',
    });
    expect(results).toEqual([{ outcome: 'late' }, { outcome: 'late' }]);
    // docs/cli.md: reports after a cancel are recorded, and change nothing.
    for (const name of ['a', 'b']) {
      expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', name))).toMatchObject({
        state: STATES.inProgress,
        lateReports: 1,
      });
    }
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      state: STATES.cancelled,
      mandatoryPending: 2,
    });
    expect(h.dispatcher.published).toHaveLength(published);
    expect(h.commands.sent).toHaveLength(sent);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.cancelled);
  });

  it('stops a sequential stage: the running plugin finishing dispatches nothing after it', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { first: silent }, sweep: false });

    await cancelRun(h.deps, runKey('u1'));
    await deliverReport(h, reportFor(lastMessageFor(h, 'first'), 'first', { status: 'Complete' }));

    expect(h.dispatcher.targets()).toEqual([['first']]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'second'))?.state).toBe(STATES.notStarted);
  });

  it('makes a start-stage command that was already queued do nothing', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { second: silent }, sweep: false });

    await cancelRun(h.deps, runKey('u1'));
    await startStage(h.deps, {
      schemaVersion: 1,
      kind: 'start-stage',
      workflow: 'reference',
      uid: 'u1',
      generation: 1,
      activity: 'intake',
      stage: 'parallel',
    });

    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toBeUndefined();
    expect(h.dispatcher.targets()).toEqual([['first'], ['second']]);
  });

  it('refuses an unknown run and a run that has finished', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await drive(h, { start: startRequest('done') });

    await expect(cancelRun(h.deps, runKey('missing'))).rejects.toBeInstanceOf(UnknownRunError);
    await expect(cancelRun(h.deps, runKey('done'))).rejects.toBeInstanceOf(ValidationError);
    expect(h.store.peekRun(runKey('done'))?.state).toBe(STATES.complete);
  });
});

describe('skipping a plugin', () => {
  it('takes a plugin waiting its turn out of its sequential stage, which then completes without it', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { first: silent }, sweep: false });

    const outcome = await skipPlugin(h.deps, pluginKey('u1', 'intake', 'pre', 'second'));
    const afterSkip = h.store.peekStage(stageKey('u1', 'intake', 'pre'));
    await deliverReport(h, reportFor(lastMessageFor(h, 'first'), 'first', { status: 'Complete' }));
    await drive(h);

    expect(outcome).toBe('skipped');
    expect(afterSkip).toMatchObject({ state: STATES.inProgress, mandatoryPending: 1 });
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'second'))).toMatchObject({
      state: STATES.doNotRun,
      message: 'skipped by an operator',
    });
    expect(h.dispatcher.targets().flat()).not.toContain('second');
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('stops awaiting a plugin that waits for its retry, and the retry then dispatches nothing', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'flaky' });
    await drive(h, { start: startRequest('u1'), plugins: { flaky: silent }, sweep: false });
    await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'flaky'), 'flaky', { status: 'Error', retryable: true }),
    );
    const retries = h.commands.ofKind('retry');

    await skipPlugin(h.deps, pluginKey('u1', 'intake', 'pre', 'flaky'));
    await retryPlugins(h.deps, retries);
    await drive(h);

    expect(h.dispatcher.published.map((p) => p.message.attempt)).toEqual([1]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'flaky'))?.state).toBe(STATES.doNotRun);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('refuses a running plugin and leaves it alone', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { first: silent }, sweep: false });
    const before = h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'first'));

    const skip = skipPlugin(h.deps, pluginKey('u1', 'intake', 'pre', 'first'));

    await expect(skip).rejects.toBeInstanceOf(ValidationError);
    await expect(skip).rejects.toThrow(/is In Progress/);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'first'))).toEqual(before);
  });

  it('refuses a finished plugin', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { second: silent }, sweep: false });

    const skip = skipPlugin(h.deps, pluginKey('u1', 'intake', 'pre', 'first'));

    await expect(skip).rejects.toThrow(/is Complete/);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'first'))?.state).toBe(STATES.complete);
  });

  it('refuses a plugin of a finished run, and of an unknown run', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1') });

    await expect(skipPlugin(h.deps, pluginKey('u1', 'intake', 'post', 'recorder'))).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(skipPlugin(h.deps, pluginKey('missing', 'intake', 'pre', 'first'))).rejects.toBeInstanceOf(
      UnknownRunError,
    );
  });
});
