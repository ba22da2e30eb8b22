/**
 * At-least-once delivery everywhere, exactly-once progress: duplicated, reordered and redelivered
 * messages (after a crash at any step) never move the reference run twice or backwards.
 */
import { describe, expect, it } from 'vitest';
import { STATES } from '../../../lambdas/contracts/index.js';
import {
  createHarness,
  type DriveOptions,
  deliverReport,
  drive,
  type EngineHarness,
  lastMessageFor,
  pluginKey,
  registerReferencePlugins,
  reportFor,
  runKey,
  stageKey,
  startRequest,
  summarize,
} from '../../support/engine-harness.js';

const STAGES = ['intake', 'assess', 'settle'].flatMap((a) =>
  ['pre', 'parallel', 'post'].map((s) => `${a}/${s}`),
);

async function referenceRun(options: DriveOptions = {}): Promise<{ h: EngineHarness; names: string[] }> {
  const h = createHarness();
  const names = await registerReferencePlugins(h);
  await drive(h, { start: startRequest('u1', { metadata: { channel: 'web' } }), ...options });
  return { h, names };
}

/** The run completed once, every stage was created and completed once, every plugin counted once. */
function expectExactlyOnce(h: EngineHarness, names: readonly string[]): void {
  const summary = summarize(h, 'u1');
  expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  expect(summary.runTransitions).toEqual({ [STATES.complete]: 1 });
  expect(summary.stagesCreated).toEqual(Object.fromEntries(STAGES.map((s) => [`${s}@g1`, 1])));
  expect(summary.stagesCompleted).toEqual(Object.fromEntries(STAGES.map((s) => [s, 1])));
  const counted = Object.fromEntries(
    names.map((name) => {
      const [activity] = name.split('-');
      const stage = name.endsWith('-check') ? 'pre' : name.endsWith('-record') ? 'post' : 'parallel';
      return [`${activity}/${stage}/${name}`, 1];
    }),
  );
  expect(summary.pluginsCounted).toEqual(counted);
  for (const stage of h.store.allStages()) {
    expect(stage).toMatchObject({ state: STATES.complete, mandatoryPending: 0, optionalPending: 0 });
  }
  for (const plugin of h.store.allPlugins()) expect(plugin.state).toBe(STATES.complete);
  expect(h.events.idsOf('run.completed')).toEqual(['run.completed:reference:u1:g1']);
}

describe('exactly-once progress of the reference run (3 activities × 1 pre + 5 parallel + 1 post)', () => {
  it('completes once with 9 publishes and 21 counted plugins when nothing goes wrong', async () => {
    const { h, names } = await referenceRun();

    expectExactlyOnce(h, names);
    expect(h.dispatcher.published).toHaveLength(9);
  });

  it('completes once when every message is delivered twice', async () => {
    const { h, names } = await referenceRun({ duplicate: true });

    expectExactlyOnce(h, names);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'completes once when messages arrive in shuffled order (seed %i)',
    async (seed) => {
      const { h, names } = await referenceRun({ shuffleSeed: seed });

      expectExactlyOnce(h, names);
    },
  );

  it.each([11, 12])('completes once when messages are duplicated and shuffled (seed %i)', async (seed) => {
    const { h, names } = await referenceRun({ shuffleSeed: seed, duplicate: true });

    expectExactlyOnce(h, names);
  });

  it('completes once when reports reach the stage in batches', async () => {
    const { h, names } = await referenceRun({ batchSignals: 10, duplicate: true, shuffleSeed: 21 });

    expectExactlyOnce(h, names);
  });

  // Every write or side effect of the run, split in four parts so that each test stays short.
  it.each([0, 1, 2, 3])(
    'completes once whatever write or side effect a crash follows, part %i (the message is then redelivered)',
    async (part) => {
      // Arrange: count the steps of one run without faults.
      const probe = await referenceRun();
      const steps = probe.h.journal.steps - 21; // minus the registrations
      const size = Math.ceil(steps / 4);
      const first = part * size + 1;
      const last = Math.min(steps, first + size - 1);

      // Act + Assert: one run per step, crashing right after that step.
      for (let step = first; step <= last; step += 1) {
        const { h, names } = await referenceRun({ crashAfterStep: step });
        expect(
          h.journal.entries.filter((e) => e.fault === 'after'),
          `crash after step ${step}`,
        ).toHaveLength(1);
        expectExactlyOnce(h, names);
        // The redelivery heals the crash by itself: the deadline sweeper is never needed for it.
        expect(h.events.ofType('plugin.timed-out'), `crash after step ${step}`).toEqual([]);
      }
      // About 50 writes and side effects per reference run now that narrow stages hold their plugins
      // (70 with separate plugin records, 85 with start-stage commands).
      expect(steps).toBeGreaterThan(40);
    },
    30_000, // about 90 whole runs in memory: a second here, more on a loaded machine
  );

  it('records a late report for a finished stage as late and changes nothing', async () => {
    const { h } = await referenceRun();
    const stage = h.store.peekStage(stageKey('u1', 'intake', 'parallel'));
    const published = h.dispatcher.published.length;
    const sent = h.commands.sent.length;

    const results = await deliverReport(
      h,
      reportFor(lastMessageFor(h, 'intake-p3'), 'intake-p3', { status: 'Error', retryable: true }),
    );

    expect(results).toEqual([{ outcome: 'late' }]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'intake-p3'))).toMatchObject({
      state: STATES.complete,
      lateReports: 1,
    });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toEqual(stage);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
    expect(h.dispatcher.published).toHaveLength(published);
    expect(h.commands.sent).toHaveLength(sent);
  });

  it('advances once when two handlers finish the last two plugins of a stage at the same time', async () => {
    // Arrange: intake/parallel in flight, all but p4 and p5 complete.
    const h = createHarness();
    await registerReferencePlugins(h);
    const silent = Object.fromEntries([1, 2, 3, 4, 5].map((n) => [`intake-p${n}`, () => undefined]));
    await drive(h, { start: startRequest('u1'), plugins: silent, sweep: false });
    const message = lastMessageFor(h, 'intake-p1');
    for (const name of ['intake-p1', 'intake-p2', 'intake-p3']) {
      await deliverReport(h, reportFor(message, name, { status: 'Complete' }));
    }

    // Act: handler B handles p5 entirely between handler A's read of the stage and A's write for
    // p4 (both read the stage with p4 and p5 pending). B counts p5 and must not complete the stage;
    // A's write, which the store applies to the stage as it is then, counts p4 and completes it.
    h.store.beforeNext('recordFinalOutcomes', async () => {
      await deliverReport(h, reportFor(message, 'intake-p5', { status: 'Complete' }));
    });
    await deliverReport(h, reportFor(message, 'intake-p4', { status: 'Complete' }));

    // Assert
    const posts = h.dispatcher.toStage('post', 'intake');
    expect(posts).toHaveLength(1);
    expect(summarize(h, 'u1').stagesCompleted['intake/parallel']).toBe(1);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      state: STATES.complete,
      mandatoryPending: 0,
    });
  });
});
