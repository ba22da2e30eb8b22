import { describe, expect, it } from 'vitest';
import { registrationSchema, STATES } from '../../../lambdas/contracts/index.js';
import { MetadataMismatchError, UnknownWorkflowError } from '../../../lambdas/engine/errors.js';
import { cancelRun } from '../../../lambdas/engine/operator.js';
import { startRun } from '../../../lambdas/engine/start.js';
import {
  createHarness,
  deliverReport,
  drive,
  type EngineHarness,
  lastMessageFor,
  type PluginScript,
  pluginKey,
  register,
  reportFor,
  runKey,
  stageKey,
  startRequest,
} from '../../support/engine-harness.js';
import { InjectedFault } from '../../support/memory-store.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };

/** intake: pre `checker`; parallel `p-ok`, `p-bad`; post `recorder` (all mandatory). */
async function arrange(h: EngineHarness): Promise<void> {
  await register(
    h,
    { activity: 'intake', stage: 'pre', name: 'checker' },
    { activity: 'intake', stage: 'parallel', name: 'p-ok' },
    { activity: 'intake', stage: 'parallel', name: 'p-bad' },
    { activity: 'intake', stage: 'post', name: 'recorder' },
  );
}

const failsInFirstGeneration: PluginScript = ({ generation }) =>
  generation === 1 ? { status: 'Error', retryable: false, message: 'declined' } : { status: 'Complete' };

const checkerWithResult: PluginScript = () => ({ status: 'Complete', result: { score: 7 } });

/** Generation 1 of `uid` fails at intake/parallel because `p-bad` fails. */
async function failedRun(
  h: EngineHarness,
  uid: string,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  await arrange(h);
  await drive(h, {
    start: startRequest(uid, { metadata }),
    plugins: { checker: checkerWithResult, 'p-bad': failsInFirstGeneration },
  });
  expect(h.store.peekRun(runKey(uid))?.state).toBe(STATES.error);
}

describe('starting a run', () => {
  it('refuses an unknown workflow, naming the known ones, and writes nothing', async () => {
    const h = createHarness();

    const start = startRun(h.deps, startRequest('u1', { workflow: 'unknown' }));

    await expect(start).rejects.toBeInstanceOf(UnknownWorkflowError);
    await expect(start).rejects.toThrow(/Known workflows: reference/);
    expect(h.store.allRuns()).toEqual([]);
    expect(h.commands.sent).toEqual([]);
  });

  it('creates the run In Progress at generation 1 and enters the pre stage of its first activity', async () => {
    const h = createHarness();
    await h.registry.put(
      registrationSchema.parse({
        schemaVersion: 1,
        activity: 'intake',
        stage: 'pre',
        info: { name: 'checker', default: { mandatory: true } },
      }),
    );

    const outcome = await startRun(h.deps, startRequest('u1', { metadata: { channel: 'web' } }));

    expect(outcome).toMatchObject({ outcome: 'started', run: { state: STATES.inProgress, generation: 1 } });
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({
      activities: ['intake', 'assess', 'settle'],
      metadata: { channel: 'web' },
      stateTimes: { [STATES.inProgress]: '2026-11-23T10:00:00.000Z' },
    });
    // The start enters the first stage itself: no command through a queue, the dispatch is published.
    expect(h.commands.sent).toEqual([]);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'pre'))).toMatchObject({
      state: STATES.inProgress,
      generation: 1,
      sequence: ['checker'],
    });
    expect(h.dispatcher.toStage('pre', 'intake').map((m) => m.plugins)).toEqual([['checker']]);
  });

  it('returns the existing run to a second start and dispatches nothing more', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { checker: () => undefined }, sweep: false });
    const sent = h.commands.sent.length;
    const published = h.dispatcher.published.length;

    const second = await startRun(h.deps, startRequest('u1', { metadata: { other: 'value' } }));
    await drive(h, { sweep: false });

    expect(second).toMatchObject({ outcome: 'existing', run: { generation: 1, metadata: {} } });
    expect(h.commands.sent).toHaveLength(sent);
    expect(h.dispatcher.published).toHaveLength(published);
  });

  it('dispatches the first stage again when a start is repeated after a crash before its publish', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    h.journal.failNext('dispatcher', 'publish');
    await expect(startRun(h.deps, startRequest('u1'))).rejects.toBeInstanceOf(InjectedFault);
    expect(h.dispatcher.published).toEqual([]);

    const repeated = await startRun(h.deps, startRequest('u1'));
    await drive(h);

    expect(repeated.outcome).toBe('existing');
    expect(h.dispatcher.toStage('pre')).toHaveLength(1);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('does not rerun a run that is still in progress', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { checker: () => undefined }, sweep: false });
    const sent = h.commands.sent.length;

    const outcome = await startRun(h.deps, startRequest('u1', { rerun: true }));

    expect(outcome).toMatchObject({ outcome: 'existing', run: { state: STATES.inProgress, generation: 1 } });
    expect(h.commands.sent).toHaveLength(sent);
  });
});

describe('rerunning a finished run', () => {
  it('starts generation 2, keeps completed plugins with their results, and runs the others again', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1');
    const publishedBefore = h.dispatcher.published.length;

    const outcome = await startRun(h.deps, startRequest('u1', { rerun: true }));
    await drive(h, { plugins: { 'p-bad': failsInFirstGeneration } });

    expect(outcome).toMatchObject({ outcome: 'rerun', run: { generation: 2, state: STATES.inProgress } });
    const rerunTargets = h.dispatcher.published.slice(publishedBefore).map((p) => p.message);
    expect(rerunTargets.map((m) => [m.generation, m.plugins])).toEqual([
      [2, ['p-bad']],
      [2, ['recorder']],
    ]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'checker'))).toMatchObject({
      generation: 2,
      state: STATES.complete,
      result: { score: 7 },
      message: 'kept from generation 1',
    });
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ state: STATES.complete, generation: 2 });
    expect(h.store.peekRun(runKey('u1'))).not.toHaveProperty('message');
  });

  it('reruns a completed run without dispatching anything', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1') });
    const published = h.dispatcher.published.length;

    await drive(h, { start: startRequest('u1', { rerun: true }) });

    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ state: STATES.complete, generation: 2 });
    expect(h.dispatcher.published).toHaveLength(published);
  });

  it('reruns a cancelled run', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await arrange(h);
    await drive(h, { start: startRequest('u1'), plugins: { checker: () => undefined }, sweep: false });
    await cancelRun(h.deps, runKey('u1'));

    await drive(h, { start: startRequest('u1', { rerun: true }) });

    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ state: STATES.complete, generation: 2 });
  });

  it('refuses a rerun whose metadata differs from the stored metadata and leaves the run alone', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1', { channel: 'web' });

    const rerun = startRun(h.deps, startRequest('u1', { rerun: true, metadata: { channel: 'phone' } }));

    await expect(rerun).rejects.toBeInstanceOf(MetadataMismatchError);
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ state: STATES.error, generation: 1 });
  });

  it('replaces the metadata on a rerun with metadataOverride and dispatches with the new metadata', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1', { channel: 'web' });

    await drive(h, {
      start: startRequest('u1', { rerun: true, metadataOverride: true, metadata: { channel: 'phone' } }),
    });

    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ generation: 2, metadata: { channel: 'phone' } });
    expect(lastMessageFor(h, 'p-bad')).toMatchObject({ generation: 2, metadata: { channel: 'phone' } });
  });

  it('accepts a rerun whose metadata differs only in key order, also in nested objects', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1', { channel: 'web', order: { id: 'o-1', lines: [1, 2] } });

    const outcome = await startRun(
      h.deps,
      startRequest('u1', { rerun: true, metadata: { order: { lines: [1, 2], id: 'o-1' }, channel: 'web' } }),
    );

    expect(outcome).toMatchObject({ outcome: 'rerun', run: { generation: 2 } });
  });

  it('keeps the stored metadata when a rerun sends none', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1', { channel: 'web' });

    const outcome = await startRun(h.deps, startRequest('u1', { rerun: true }));

    expect(outcome.run.metadata).toEqual({ channel: 'web' });
  });

  it('requests the first stage again when a rerun is redelivered after a crash between the rerun and its command', async () => {
    // Arrange: generation 1 failed; the rerun's first command is lost in a crash.
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1');
    h.journal.failNext('commands', 'send');

    // Act: SQS delivers the rerun request again; this time every plugin succeeds.
    await drive(h, { start: startRequest('u1', { rerun: true }) });

    // Assert
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ state: STATES.complete, generation: 2 });
  });

  it('records a report of generation 1 that arrives after the rerun as late and changes nothing', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await failedRun(h, 'u1');
    const oldMessage = lastMessageFor(h, 'p-bad');
    await drive(h, {
      start: startRequest('u1', { rerun: true }),
      plugins: { 'p-bad': () => undefined },
      sweep: false,
    });
    const before = h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'p-bad'));

    const results = await deliverReport(h, reportFor(oldMessage, 'p-bad', { status: 'Complete' }));

    expect(results).toEqual([{ outcome: 'late' }]);
    const after = h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'p-bad'));
    expect(after).toEqual({ ...before, lateReports: 1 });
    expect(after?.state).toBe(STATES.inProgress);
  });
});
