/**
 * The in-memory store must keep the StatusStore port's promises, or the engine tests prove nothing.
 */
import { describe, expect, it } from 'vitest';
import { CountDownRefusedError } from '../../../lambdas/adapters/errors.js';
import { STATES } from '../../../lambdas/contracts/index.js';
import type { FinalOutcome } from '../../../lambdas/engine/ports.js';
import type { PluginRecord, RunRecord, StageRecord } from '../../../lambdas/engine/records.js';
import { ManualClock, registration, T0 } from '../../support/engine-harness.js';
import { InjectedFault, MemoryRegistry, MemoryStatusStore } from '../../support/memory-store.js';

const runKey = { workflow: 'reference', uid: 'u1' };
const stageKey = { ...runKey, activity: 'intake', stage: 'parallel' as const };

function run(fields: Partial<RunRecord> = {}): RunRecord {
  return {
    ...runKey,
    state: STATES.inProgress,
    generation: 1,
    activities: ['intake'],
    metadata: { channel: 'web' },
    createdAt: T0,
    updatedAt: T0,
    stateTimes: { [STATES.inProgress]: T0 },
    ...fields,
  };
}

function stage(fields: Partial<StageRecord> = {}): StageRecord {
  return {
    ...stageKey,
    generation: 1,
    state: STATES.inProgress,
    mode: 'parallel',
    mandatoryPending: 1,
    optionalPending: 1,
    createdAt: T0,
    updatedAt: T0,
    stateTimes: {},
    ...fields,
  };
}

function plugin(name: string, fields: Partial<PluginRecord> = {}): PluginRecord {
  return {
    ...stageKey,
    plugin: name,
    generation: 1,
    state: STATES.inProgress,
    mandatory: true,
    order: 90,
    attempt: 1,
    maxAttempts: 3,
    deadlineSeconds: 60,
    deadline: '2026-11-23T10:01:00.000Z',
    updatedAt: T0,
    stateTimes: {},
    ...fields,
  };
}

function complete(name: string, fields: Partial<FinalOutcome> = {}): FinalOutcome {
  return {
    key: { ...stageKey, plugin: name },
    generation: 1,
    from: [STATES.inProgress],
    attempt: 1,
    countDown: 'mandatory',
    patch: { state: STATES.complete, deadline: null },
    ...fields,
  };
}

function setup() {
  const clock = new ManualClock();
  const store = new MemoryStatusStore({ clock });
  return { clock, store };
}

describe('MemoryStatusStore', () => {
  it('creates a run once and returns the stored run to a second create', async () => {
    const { store } = setup();

    const first = await store.createRunIfAbsent(run());
    const second = await store.createRunIfAbsent(run({ metadata: { channel: 'phone' } }));

    expect(first.created).toBe(true);
    expect(second).toEqual({ created: false, run: run() });
  });

  it('never aliases records: changing what went in or came out leaves the store alone', async () => {
    const { store } = setup();
    const input = run();
    await store.createRunIfAbsent(input);

    (input.metadata as Record<string, unknown>).channel = 'changed-in';
    const out = await store.getRun(runKey);
    (out?.metadata as Record<string, unknown>).channel = 'changed-out';

    expect(store.peekRun(runKey)?.metadata).toEqual({ channel: 'web' });
  });

  it('moves a run only from a listed state and at the given generation', async () => {
    const { store } = setup();
    store.seed({ runs: [run()] });

    const wrongState = await store.transitionRun(runKey, [STATES.complete], { state: STATES.error });
    const wrongGeneration = await store.transitionRun(
      runKey,
      [STATES.inProgress],
      { state: STATES.error },
      { generation: 2 },
    );

    expect(wrongState).toEqual({ applied: false, current: run() });
    expect(wrongGeneration.applied).toBe(false);
    expect(store.peekRun(runKey)?.state).toBe(STATES.inProgress);
  });

  it('sets updatedAt and the state time on a transition and removes fields patched with null', async () => {
    const { store, clock } = setup();
    store.seed({ runs: [run({ message: 'old', endedAt: T0 })] });
    clock.advanceSeconds(5);

    const moved = await store.transitionRun(runKey, [STATES.inProgress], {
      state: STATES.complete,
      message: null,
      endedAt: null,
    });

    const expected = '2026-11-23T10:00:05.000Z';
    expect(moved.applied && moved.record).toMatchObject({ state: STATES.complete, updatedAt: expected });
    expect(moved.applied && moved.record.stateTimes).toEqual({
      [STATES.inProgress]: T0,
      [STATES.complete]: expected,
    });
    expect(store.peekRun(runKey)).not.toHaveProperty('message');
    expect(store.peekRun(runKey)).not.toHaveProperty('endedAt');
  });

  it('replaces a stage record only when the new one is of a newer generation', async () => {
    const { store } = setup();
    await store.createStageIfAbsent(stage({ generation: 2 }));

    const same = await store.createStageIfAbsent(stage({ generation: 2, mandatoryPending: 9 }));
    const older = await store.createStageIfAbsent(stage({ generation: 1 }));
    const newer = await store.createStageIfAbsent(stage({ generation: 3 }));

    expect(same).toEqual({ created: false, stage: stage({ generation: 2 }) });
    expect(older.created).toBe(false);
    expect(newer.created).toBe(true);
    expect(store.peekStage(stageKey)?.generation).toBe(3);
  });

  it('never overwrites a plugin record of the same or a newer generation', async () => {
    const { store } = setup();
    store.seed({
      plugins: [plugin('a', { state: STATES.complete }), plugin('b', { generation: 2 }), plugin('c')],
    });

    await store.putPluginsIfAbsent([
      plugin('a', { state: STATES.notStarted }),
      plugin('b', { state: STATES.notStarted }),
      plugin('c', { generation: 2, state: STATES.doNotRun }),
      plugin('d'),
    ]);

    const states = store.allPlugins().map((p) => [p.plugin, p.generation, p.state]);
    expect(states).toEqual([
      ['a', 1, STATES.complete],
      ['b', 2, STATES.inProgress],
      ['c', 2, STATES.doNotRun],
      ['d', 1, STATES.inProgress],
    ]);
  });

  it('completes a stage with requireNothingPending only when both counters are zero', async () => {
    const { store } = setup();
    store.seed({ stages: [stage({ mandatoryPending: 0, optionalPending: 1 })] });
    const options = { generation: 1, requireNothingPending: true };

    const refused = await store.transitionStage(
      stageKey,
      [STATES.inProgress],
      { state: STATES.complete },
      options,
    );
    store.seed({ stages: [stage({ mandatoryPending: 0, optionalPending: 0 })] });
    const applied = await store.transitionStage(
      stageKey,
      [STATES.inProgress],
      { state: STATES.complete },
      options,
    );

    expect(refused.applied).toBe(false);
    expect(applied.applied).toBe(true);
  });

  it('moves a plugin only at the given attempt', async () => {
    const { store } = setup();
    store.seed({ plugins: [plugin('a', { attempt: 2 })] });
    const key = { ...stageKey, plugin: 'a' };

    const stale = await store.transitionPlugin(
      key,
      [STATES.inProgress],
      { state: STATES.error },
      { generation: 1, attempt: 1 },
    );
    const current = await store.transitionPlugin(
      key,
      [STATES.inProgress],
      { state: STATES.error },
      { generation: 1, attempt: 2 },
    );

    expect(stale.applied).toBe(false);
    expect(current.applied).toBe(true);
  });

  it('applies each final outcome at most once and counts down only what it applied', async () => {
    const { store } = setup();
    store.seed({
      stages: [stage({ mandatoryPending: 2, optionalPending: 1 })],
      plugins: [plugin('a'), plugin('b')],
    });

    const first = await store.recordFinalOutcomes({ ...stageKey, generation: 1 }, [
      complete('a'),
      complete('a', { patch: { state: STATES.error } }),
    ]);
    const again = await store.recordFinalOutcomes({ ...stageKey, generation: 1 }, [
      complete('a'),
      complete('b'),
    ]);

    expect(first.applied.map((k) => k.plugin)).toEqual(['a']);
    expect(first.refused.map((k) => k.plugin)).toEqual(['a']);
    expect(again.applied.map((k) => k.plugin)).toEqual(['b']);
    expect(again.refused.map((k) => k.plugin)).toEqual(['a']);
    expect(store.peekPlugin({ ...stageKey, plugin: 'a' })?.state).toBe(STATES.complete);
    expect(store.peekStage(stageKey)).toMatchObject({ mandatoryPending: 0, optionalPending: 1 });
  });

  it('refuses a count-down below zero and writes nothing of it', async () => {
    const { store } = setup();
    store.seed({ stages: [stage({ mandatoryPending: 0 })], plugins: [plugin('a')] });

    const attempt = store.recordFinalOutcomes({ ...stageKey, generation: 1 }, [complete('a')]);

    await expect(attempt).rejects.toBeInstanceOf(CountDownRefusedError);
    expect(store.peekPlugin({ ...stageKey, plugin: 'a' })?.state).toBe(STATES.inProgress);
  });

  it('counts a late report on the plugin record', async () => {
    const { store } = setup();
    store.seed({ plugins: [plugin('a')] });

    await store.recordLateReport({ ...stageKey, plugin: 'a' });
    await store.recordLateReport({ ...stageKey, plugin: 'a' });

    expect(store.peekPlugin({ ...stageKey, plugin: 'a' })?.lateReports).toBe(2);
  });

  it('lists only unfinished runs, newest first, page by page', async () => {
    const { store } = setup();
    store.seed({
      runs: [
        run({ uid: 'old', createdAt: '2026-11-23T09:00:00.000Z' }),
        run({ uid: 'done', createdAt: '2026-11-23T09:30:00.000Z', state: STATES.complete }),
        run({ uid: 'new', createdAt: '2026-11-23T09:45:00.000Z' }),
        run({ uid: 'other', workflow: 'other' }),
      ],
    });

    const first = await store.listActiveRuns('reference', { limit: 1 });
    const second = await store.listActiveRuns('reference', { limit: 1, nextToken: first.nextToken });

    expect(first.runs.map((r) => r.uid)).toEqual(['new']);
    expect(second.runs.map((r) => r.uid)).toEqual(['old']);
    expect(second.nextToken).toBeUndefined();
  });

  it('lists as overdue only In Progress plugins whose deadline is before now', async () => {
    const { store } = setup();
    store.seed({
      plugins: [
        plugin('late', { deadline: '2026-11-23T10:00:59.000Z' }),
        plugin('exact', { deadline: '2026-11-23T10:01:00.000Z' }),
        plugin('waiting', { state: STATES.notStarted, deadline: '2026-11-23T09:00:00.000Z' }),
      ],
    });

    const overdue = await store.listOverduePlugins(runKey, '2026-11-23T10:01:00.000Z');

    expect(overdue.map((p) => p.plugin)).toEqual(['late']);
  });

  it('throws an injected fault once, before the call acts or after it took effect', async () => {
    const { store } = setup();
    store.failNext('createRunIfAbsent');
    store.failNext('transitionRun', { timing: 'after' });

    await expect(store.createRunIfAbsent(run())).rejects.toBeInstanceOf(InjectedFault);
    expect(store.peekRun(runKey)).toBeUndefined();
    await store.createRunIfAbsent(run());
    await expect(
      store.transitionRun(runKey, [STATES.inProgress], { state: STATES.complete }),
    ).rejects.toBeInstanceOf(InjectedFault);
    expect(store.peekRun(runKey)?.state).toBe(STATES.complete);
    expect(store.calls.map((c) => [c.method, c.fault])).toEqual([
      ['createRunIfAbsent', 'before'],
      ['createRunIfAbsent', undefined],
      ['transitionRun', 'after'],
    ]);
  });
});

describe('MemoryRegistry', () => {
  it('replaces a registration of the same plugin and stage and lists a stage by plugin name', async () => {
    const registry = new MemoryRegistry();
    await registry.put(registration({ activity: 'intake', stage: 'pre', name: 'zeta', order: 1 }));
    await registry.put(registration({ activity: 'intake', stage: 'pre', name: 'alpha', order: 5 }));
    await registry.put(registration({ activity: 'intake', stage: 'pre', name: 'alpha', order: 7 }));
    await registry.put(registration({ activity: 'intake', stage: 'post', name: 'other' }));

    const listed = await registry.list('intake', 'pre');

    expect(listed.map((r) => [r.info.name, r.info.order])).toEqual([
      ['alpha', 7],
      ['zeta', 1],
    ]);
  });

  it('removes a registration, and removing a missing one is not an error', async () => {
    const registry = new MemoryRegistry();
    await registry.put(registration({ activity: 'intake', stage: 'pre', name: 'alpha' }));

    await registry.remove('intake', 'pre', 'alpha');
    await registry.remove('intake', 'pre', 'alpha');

    expect(await registry.list('intake', 'pre')).toEqual([]);
  });
});
