/**
 * Mandatory plugins gate their stage; optional ones never fail a stage or a run, but a stage waits
 * for an optional plugin already running until it finishes or times out.
 */
import { describe, expect, it } from 'vitest';
import { STATES } from '../../../lambdas/contracts/index.js';
import {
  createHarness,
  deliverReport,
  drive,
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

describe('mandatory plugins', () => {
  it('fail the stage and the run with the plugin message when one fails for good', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'parallel', name: 'charge', mandatory: true },
      { activity: 'intake', stage: 'parallel', name: 'notify', mandatory: false },
      { activity: 'intake', stage: 'post', name: 'recorder' },
    );

    await drive(h, {
      start: startRequest('u1'),
      plugins: { charge: () => ({ status: 'Error', retryable: false, message: 'card declined' }) },
    });

    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      state: STATES.error,
      failedPlugin: 'charge',
      message: 'charge: card declined',
    });
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({
      state: STATES.error,
      message: 'intake/parallel: charge: card declined',
      endedAt: '2026-11-23T10:00:00.000Z',
    });
    expect(h.dispatcher.targets().flat()).not.toContain('recorder');
  });

  it('stop a sequential stage: nothing after a failed mandatory plugin is dispatched', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'first', order: 1 },
      { activity: 'intake', stage: 'pre', name: 'second', order: 2 },
    );

    await drive(h, {
      start: startRequest('u1'),
      plugins: { first: () => ({ status: 'Error', retryable: false }) },
    });

    expect(h.dispatcher.targets()).toEqual([['first']]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'second'))?.state).toBe(STATES.notStarted);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.error);
  });

  it('keep the stage open while any of them has not finished', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'parallel', name: 'a' },
      { activity: 'intake', stage: 'parallel', name: 'b' },
    );
    await drive(h, { start: startRequest('u1'), plugins: { a: silent, b: silent }, sweep: false });

    await deliverReport(h, reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' }));

    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      state: STATES.inProgress,
      mandatoryPending: 1,
    });
    expect(h.dispatcher.toStage('post')).toEqual([]);
  });
});

describe('optional plugins', () => {
  it('never fail the stage or the run when they fail', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'extra', mandatory: false, order: 1 },
      { activity: 'intake', stage: 'pre', name: 'gate', order: 2 },
      { activity: 'intake', stage: 'parallel', name: 'side', mandatory: false },
    );
    const fails = () => ({ status: 'Error', retryable: false, message: 'nope' }) as const;

    await drive(h, { start: startRequest('u1'), plugins: { extra: fails, side: fails } });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'extra'))).toMatchObject({
      state: STATES.error,
      message: 'nope',
    });
    expect(h.dispatcher.targets()).toEqual([['extra'], ['gate'], ['side']]);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.state).toBe(STATES.complete);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('hold the stage as Mandatory Completed while one is still In Progress, until it finishes', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'parallel', name: 'must', mandatory: true },
      { activity: 'intake', stage: 'parallel', name: 'may', mandatory: false },
      { activity: 'intake', stage: 'post', name: 'recorder' },
    );
    await drive(h, { start: startRequest('u1'), plugins: { must: silent, may: silent }, sweep: false });
    const message = lastMessageFor(h, 'must');

    await deliverReport(h, reportFor(message, 'must', { status: 'Complete' }));
    const whileOptionalRuns = {
      stage: h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.state,
      post: h.dispatcher.toStage('post').length,
    };
    await deliverReport(h, reportFor(message, 'may', { status: 'Complete' }));

    expect(whileOptionalRuns).toEqual({ stage: STATES.mandatoryCompleted, post: 0 });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.state).toBe(STATES.complete);
    expect(h.dispatcher.toStage('post')).toHaveLength(1);
  });

  it('let the stage move on once the one still In Progress times out on its last attempt', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'parallel', name: 'must' },
      { activity: 'intake', stage: 'parallel', name: 'may', mandatory: false, maxAttempts: 1 },
    );

    await drive(h, { start: startRequest('u1'), plugins: { may: silent } });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'may'))?.state).toBe(STATES.timedOut);
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({
      state: STATES.complete,
      endedAt: '2026-11-23T10:01:01.000Z',
    });
  });
});
