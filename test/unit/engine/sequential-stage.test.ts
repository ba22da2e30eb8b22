import { describe, expect, it } from 'vitest';
import { STATES } from '../../../lambdas/contracts/index.js';
import { startStage } from '../../../lambdas/engine/progress.js';
import {
  createHarness,
  deliverReport,
  drive,
  inboxUrl,
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

const startPre = {
  schemaVersion: 1,
  kind: 'start-stage',
  workflow: 'reference',
  uid: 'u1',
  generation: 1,
} as const;

describe('sequential stages (pre and post)', () => {
  it('dispatches one plugin at a time in ascending order, ties broken by name', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'zulu', order: 10 },
      { activity: 'intake', stage: 'pre', name: 'bravo', order: 20 },
      { activity: 'intake', stage: 'pre', name: 'alpha', order: 20 },
      { activity: 'intake', stage: 'pre', name: 'mike', order: 5 },
    );

    await drive(h, { start: startRequest('u1') });

    expect(h.dispatcher.targets()).toEqual([['mike'], ['zulu'], ['alpha'], ['bravo']]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('publishes to the one plugin with its name as the plugins attribute, attempt 1 and its deadline', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'checker', deadlineSeconds: 90 });

    await drive(h, {
      start: startRequest('u1', { metadata: { channel: 'web' } }),
      plugins: { checker: silent },
      sweep: false,
    });

    const [published] = h.dispatcher.published;
    expect(published?.message).toEqual({
      schemaVersion: 1,
      kind: 'plugin-task',
      workflow: 'reference',
      uid: 'u1',
      generation: 1,
      activity: 'intake',
      stage: 'pre',
      plugins: ['checker'],
      attempt: 1,
      dispatchedAt: '2026-11-23T10:00:00.000Z',
      deadlines: { checker: '2026-11-23T10:01:30.000Z' },
      metadata: { channel: 'web' },
      replyTo: { queueUrl: inboxUrl('intake', 'pre') },
    });
    expect(published?.attributes.plugins).toEqual({ DataType: 'String.Array', StringValue: '["checker"]' });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'pre'))?.state).toBe(STATES.inProgress);
  });

  it('records every plugin Not Started and the dispatch order on the stage before the first dispatch', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'second', order: 2, mandatory: false },
      { activity: 'intake', stage: 'pre', name: 'first', order: 1 },
    );

    await drive(h, { start: startRequest('u1'), plugins: { first: silent }, sweep: false });

    expect(h.store.peekStage(stageKey('u1', 'intake', 'pre'))).toMatchObject({
      mode: 'sequential',
      sequence: ['first', 'second'],
      mandatoryPending: 1,
      optionalPending: 1,
    });
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'first'))).toMatchObject({
      state: STATES.inProgress,
      attempt: 1,
    });
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'second'))).toMatchObject({
      state: STATES.notStarted,
      attempt: 0,
      mandatory: false,
    });
  });

  it('does not dispatch the next plugin while one is in flight', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'first', order: 1 },
      { activity: 'intake', stage: 'pre', name: 'second', order: 2 },
    );
    await drive(h, { start: startRequest('u1'), plugins: { first: silent }, sweep: false });

    await startStage(h.deps, { ...startPre, activity: 'intake', stage: 'pre' });
    await deliverReport(h, reportFor(lastMessageFor(h, 'first'), 'first', { status: 'In Progress' }));

    // A redelivered command may publish the plugin in flight again (its first publish may have been
    // lost in a crash); it never dispatches the next one.
    expect(
      h.dispatcher.published.every((p) => p.message.plugins.join() === 'first' && p.message.attempt === 1),
    ).toBe(true);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'second'))).toMatchObject({
      state: STATES.notStarted,
      attempt: 0,
    });
  });

  it('does not dispatch the next plugin while one waits for its retry', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'first', order: 1 },
      { activity: 'intake', stage: 'pre', name: 'second', order: 2 },
    );
    await drive(h, { start: startRequest('u1'), plugins: { first: silent }, sweep: false });
    await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'first'), 'first', { status: 'Error', retryable: true }),
    );

    await startStage(h.deps, { ...startPre, activity: 'intake', stage: 'pre' });
    const whileWaiting = h.dispatcher.targets();
    await drive(h);

    expect(whileWaiting).toEqual([['first']]);
    expect(h.dispatcher.published.map((p) => [p.message.plugins, p.message.attempt])).toEqual([
      [['first'], 1],
      [['first'], 2],
      [['second'], 1],
    ]);
  });

  it('runs the post stage one plugin at a time too, after the parallel stage', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'post', name: 'post-b', order: 2 },
      { activity: 'intake', stage: 'post', name: 'post-a', order: 1 },
      { activity: 'intake', stage: 'parallel', name: 'worker' },
    );

    await drive(h, { start: startRequest('u1') });

    expect(h.dispatcher.targets()).toEqual([['worker'], ['post-a'], ['post-b']]);
  });

  it('completes a stage with no registered plugin at once, without publishing, and enters the next stage', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'parallel', name: 'worker' });

    await drive(h, { start: startRequest('u1'), plugins: { worker: silent }, sweep: false });

    expect(h.store.peekStage(stageKey('u1', 'intake', 'pre'))).toMatchObject({
      state: STATES.complete,
      message: 'no plugin to wait for',
    });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      state: STATES.inProgress,
      mandatoryPending: 1,
    });
    expect(h.commands.sent).toEqual([]);
    expect(h.dispatcher.targets()).toEqual([['worker']]);
  });

  it('completes a run none of whose stages has a plugin without publishing anything', async () => {
    const h = createHarness();

    await drive(h, { start: startRequest('u1') });

    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
    expect(h.store.allStages()).toHaveLength(9);
    expect(h.dispatcher.published).toEqual([]);
  });
});

describe('sequential stages after a crash between moving a plugin to In Progress and its publish', () => {
  it('publishes the first sequential plugin again when the start-stage command is redelivered', async () => {
    // Arrange: the publish of the stage's first plugin is lost in a crash.
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'first', maxAttempts: 1 });
    h.journal.failNext('dispatcher', 'publish');

    // Act
    await drive(h, { start: startRequest('u1') });

    // Assert: the redelivery repeats the publish (ADR 0001 §5) instead of waiting for the deadline.
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
    expect(h.events.ofType('plugin.timed-out')).toEqual([]);
  });

  it('publishes the next sequential plugin again when the report that dispatched it is redelivered', async () => {
    // Arrange: after `first` completes, the publish to `second` is lost in a crash.
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'first', order: 1 },
      { activity: 'intake', stage: 'pre', name: 'second', order: 2, maxAttempts: 1 },
    );

    // Act
    await drive(h, {
      start: startRequest('u1'),
      plugins: {
        first: () => {
          h.journal.failNext('dispatcher', 'publish');
          return { status: 'Complete' };
        },
      },
    });

    // Assert
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
    expect(h.events.ofType('plugin.timed-out')).toEqual([]);
  });
});
