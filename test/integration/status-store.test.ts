/**
 * The DynamoDB status store against moto: every primitive the engine relies on, one fresh table per
 * test. Volume and concurrency are in status-store-scale.test.ts.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import {
  CorruptItemError,
  CountDownRefusedError,
  InvalidPageTokenError,
  InvalidStoreRequestError,
  ResultTooLargeError,
} from '../../lambdas/adapters/errors.js';
import { LIMITS, pluginSk, RUN_SK, runPk, STATES, stageSk } from '../../lambdas/contracts/index.js';
import type { RunRecord } from '../../lambdas/engine/records.js';
import {
  at,
  completion,
  fakeClock,
  pluginKey,
  pluginRecord,
  runRecord,
  stageKey,
  stageRecord,
  T0,
  WORKFLOW,
} from '../fixtures/status-records.js';
import { useMoto } from '../support/moto.js';
import { createStatusTable, rawItem } from '../support/status-table.js';

const moto = useMoto();

const DAY_SECONDS = 86_400;

async function setup(options: { retentionDays?: number } = {}) {
  const table = await createStatusTable(moto.endpoint);
  const clock = fakeClock();
  const store = new DynamoStatusStore({
    tableName: table.tableName,
    client: table.documentClient,
    clock,
    ...options,
  });
  return { table, clock, store };
}

describe('runs', () => {
  it('creates a run once: a second create returns the first run with created=false', async () => {
    const { store } = await setup();
    const first = runRecord('u-1', { metadata: { customer: 'first' } });

    const created = await store.createRunIfAbsent(first);
    const again = await store.createRunIfAbsent(runRecord('u-1', { metadata: { customer: 'second' } }));

    expect(created).toEqual({ created: true, run: first });
    expect(again.created).toBe(false);
    expect(again.run).toEqual(first);
    expect(await store.getRun({ workflow: WORKFLOW, uid: 'u-1' })).toEqual(first);
  });

  it('stores the index attributes and expiresAt = createdAt + retention, and returns records without them', async () => {
    const { store, table } = await setup({ retentionDays: 30 });
    await store.createRunIfAbsent(runRecord('u-1'));

    const item = await rawItem(table, runPk(WORKFLOW, 'u-1'), RUN_SK);
    const record = await store.getRun({ workflow: WORKFLOW, uid: 'u-1' });

    expect(item).toMatchObject({
      activeWorkflow: WORKFLOW,
      activeSince: `${T0}#u-1`,
      runsWorkflow: WORKFLOW,
      runsSort: `${T0}#u-1`,
      expiresAt: Date.parse(T0) / 1000 + 30 * DAY_SECONDS,
    });
    for (const internal of [
      'pk',
      'sk',
      'activeWorkflow',
      'activeSince',
      'runsWorkflow',
      'runsSort',
      'expiresAt',
    ]) {
      expect(record).not.toHaveProperty(internal);
    }
  });

  it('leaves the active index in the same write that finishes a run, and re-enters it on a rerun', async () => {
    const { store, table, clock } = await setup();
    const key = { workflow: WORKFLOW, uid: 'u-1' };
    await store.createRunIfAbsent(runRecord('u-1', { position: { activity: 'ship', stage: 'post' } }));
    clock.advance(60_000);
    const ended = at(60_000);

    const finished = await store.transitionRun(
      key,
      [STATES.inProgress],
      { state: STATES.complete, endedAt: ended },
      {
        generation: 1,
      },
    );
    const afterFinish = await rawItem(table, runPk(WORKFLOW, 'u-1'), RUN_SK);
    clock.advance(60_000);
    const rerun = await store.transitionRun(
      key,
      [STATES.complete, STATES.error, STATES.cancelled],
      { state: STATES.inProgress, generation: 2, endedAt: null, position: null },
      { generation: 1 },
    );
    const afterRerun = await rawItem(table, runPk(WORKFLOW, 'u-1'), RUN_SK);

    expect(finished.applied && finished.record).toMatchObject({
      state: STATES.complete,
      endedAt: ended,
      updatedAt: ended,
      stateTimes: { [STATES.inProgress]: T0, [STATES.complete]: ended },
    });
    expect(afterFinish).not.toHaveProperty('activeWorkflow');
    expect(afterFinish).not.toHaveProperty('activeSince');
    expect(afterFinish).toMatchObject({ runsWorkflow: WORKFLOW, runsSort: `${T0}#u-1` });
    expect(rerun.applied && rerun.record).toMatchObject({
      state: STATES.inProgress,
      generation: 2,
      stateTimes: { [STATES.inProgress]: at(120_000), [STATES.complete]: ended },
    });
    expect(rerun.applied && rerun.record).not.toHaveProperty('endedAt');
    expect(rerun.applied && rerun.record).not.toHaveProperty('position');
    expect(afterRerun).toMatchObject({ activeWorkflow: WORKFLOW, activeSince: `${T0}#u-1` });
    // The rerun is kept for the full retention from when it started, not from the first run.
    expect(afterFinish?.expiresAt).toBe(Date.parse(T0) / 1000 + 90 * DAY_SECONDS);
    expect(afterRerun?.expiresAt).toBe(Date.parse(at(120_000)) / 1000 + 90 * DAY_SECONDS);
  });

  it('keeps a plugin record carried into a rerun for the retention from its write, not from its old times', async () => {
    const { store, table, clock } = await setup();
    clock.advance(10 * DAY_SECONDS * 1000);

    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a', { generation: 2 })]);

    const item = await rawItem(table, runPk(WORKFLOW, 'u-1'), pluginSk('check', 'parallel', 'a'));
    expect(item?.expiresAt).toBe(Date.parse(T0) / 1000 + 100 * DAY_SECONDS);
  });

  it('treats a duplicate transition as a no-op that reports applied:false with the current record', async () => {
    const { store, clock } = await setup();
    const key = { workflow: WORKFLOW, uid: 'u-1' };
    await store.createRunIfAbsent(runRecord('u-1'));
    const first = await store.transitionRun(key, [STATES.inProgress], {
      state: STATES.error,
      message: 'boom',
    });
    clock.advance(5_000);

    const second = await store.transitionRun(key, [STATES.inProgress], {
      state: STATES.error,
      message: 'again',
    });

    expect(first.applied).toBe(true);
    expect(second.applied).toBe(false);
    expect(!second.applied && second.current).toEqual(first.applied && first.record);
    expect(await store.getRun(key)).toMatchObject({ message: 'boom', updatedAt: T0 });
  });

  it('refuses a run transition when the generation does not match', async () => {
    const { store } = await setup();
    const key = { workflow: WORKFLOW, uid: 'u-1' };
    await store.createRunIfAbsent(runRecord('u-1', { generation: 2 }));

    const moved = await store.transitionRun(
      key,
      [STATES.inProgress],
      { state: STATES.cancelled },
      { generation: 1 },
    );

    expect(moved.applied).toBe(false);
    expect(!moved.applied && moved.current?.state).toBe(STATES.inProgress);
  });

  it('applies a patch without a state, and removes attributes set to null', async () => {
    const { store } = await setup();
    const key = { workflow: WORKFLOW, uid: 'u-1' };
    await store.createRunIfAbsent(runRecord('u-1', { message: 'hello' }));

    const moved = await store.transitionRun(key, [STATES.inProgress], {
      position: { activity: 'check', stage: 'pre' },
      message: null,
      metadata: { customer: 'c-2', nested: { list: [1, 2] } },
    });

    expect(moved.applied && moved.record).toMatchObject({
      state: STATES.inProgress,
      position: { activity: 'check', stage: 'pre' },
      metadata: { customer: 'c-2', nested: { list: [1, 2] } },
    });
    expect(moved.applied && moved.record).not.toHaveProperty('message');
  });

  it('reports applied:false without a record when the run does not exist', async () => {
    const { store } = await setup();

    const moved = await store.transitionRun({ workflow: WORKFLOW, uid: 'nope' }, [STATES.inProgress], {
      state: STATES.complete,
    });

    expect(moved).toEqual({ applied: false, current: undefined });
    expect(await store.getRun({ workflow: WORKFLOW, uid: 'nope' })).toBeUndefined();
  });
});

describe('stages', () => {
  it('creates a stage once per generation and replaces an older generation', async () => {
    const { store } = await setup();
    const first = stageRecord('u-1', { mandatoryPending: 2 });

    const created = await store.createStageIfAbsent(first);
    const same = await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 5 }));
    const newer = await store.createStageIfAbsent(stageRecord('u-1', { generation: 2, mandatoryPending: 1 }));
    const older = await store.createStageIfAbsent(stageRecord('u-1', { generation: 1, mandatoryPending: 9 }));

    expect(created).toEqual({ created: true, stage: first });
    expect(same).toEqual({ created: false, stage: first });
    expect(newer.created).toBe(true);
    expect(older.created).toBe(false);
    expect(older.stage).toMatchObject({ generation: 2, mandatoryPending: 1 });
  });

  it('refuses a stage transition from a wrong state or another generation', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1'));

    const wrongState = await store.transitionStage(
      stageKey('u-1'),
      [STATES.notStarted],
      { state: STATES.complete },
      {
        generation: 1,
      },
    );
    const wrongGeneration = await store.transitionStage(
      stageKey('u-1'),
      [STATES.inProgress],
      { state: STATES.complete },
      { generation: 2 },
    );

    expect(wrongState.applied).toBe(false);
    expect(wrongGeneration.applied).toBe(false);
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ state: STATES.inProgress });
  });

  it('completes a stage that requires nothing pending only once both counters are zero', async () => {
    const { store, clock } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { optionalPending: 1 }));
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'opt', { mandatory: false })]);
    const complete = () =>
      store.transitionStage(
        stageKey('u-1'),
        [STATES.inProgress],
        { state: STATES.complete, failedPlugin: null },
        { generation: 1, requireNothingPending: true },
      );

    const early = await complete();
    await store.recordFinalOutcomes({ ...stageKey('u-1'), generation: 1 }, [
      completion('u-1', 'opt', { countDown: 'optional' }),
    ]);
    clock.advance(1_000);
    const done = await complete();

    expect(early.applied).toBe(false);
    expect(done.applied && done.record).toMatchObject({
      state: STATES.complete,
      optionalPending: 0,
      stateTimes: { [STATES.complete]: at(1_000) },
    });
  });
});

describe('plugins', () => {
  it('refuses a plugin transition from a wrong state and returns the current record', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a', { state: STATES.notStarted, attempt: 0 })]);

    const moved = await store.transitionPlugin(
      pluginKey('u-1', 'a'),
      [STATES.inProgress],
      { state: STATES.complete },
      {
        generation: 1,
      },
    );

    expect(moved.applied).toBe(false);
    expect(!moved.applied && moved.current).toMatchObject({ state: STATES.notStarted, attempt: 0 });
  });

  it('refuses a plugin transition for another generation or another attempt', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a', { attempt: 2 })]);
    const key = pluginKey('u-1', 'a');

    const otherGeneration = await store.transitionPlugin(
      key,
      [STATES.inProgress],
      { state: STATES.error },
      {
        generation: 2,
      },
    );
    const otherAttempt = await store.transitionPlugin(
      key,
      [STATES.inProgress],
      { state: STATES.error },
      {
        generation: 1,
        attempt: 1,
      },
    );
    const right = await store.transitionPlugin(
      key,
      [STATES.inProgress],
      { state: STATES.error },
      {
        generation: 1,
        attempt: 2,
      },
    );

    expect(otherGeneration.applied).toBe(false);
    expect(otherAttempt.applied).toBe(false);
    expect(right.applied && right.record.state).toBe(STATES.error);
  });

  it('retries a plugin: sets attempt, deadline and the state time, and removes a cleared message', async () => {
    const { store, clock } = await setup();
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a', { state: STATES.error, message: 'failed' })]);
    clock.advance(30_000);

    const moved = await store.transitionPlugin(
      pluginKey('u-1', 'a'),
      [STATES.error],
      { state: STATES.inProgress, attempt: 2, deadline: at(600_000), message: null },
      { generation: 1, attempt: 1 },
    );

    expect(moved.applied && moved.record).toMatchObject({
      state: STATES.inProgress,
      attempt: 2,
      deadline: at(600_000),
      updatedAt: at(30_000),
      stateTimes: { [STATES.inProgress]: at(30_000) },
    });
    expect(moved.applied && moved.record).not.toHaveProperty('message');
  });

  it('throws ResultTooLargeError naming the 4096-byte limit and writes nothing for an oversized result', async () => {
    const { store } = await setup();
    const stored = pluginRecord('u-1', 'a');
    await store.putPluginsIfAbsent([stored]);
    const result = { blob: 'x'.repeat(LIMITS.resultBytes) };

    const attempt = store.transitionPlugin(
      pluginKey('u-1', 'a'),
      [STATES.inProgress],
      { state: STATES.complete, result },
      {
        generation: 1,
      },
    );

    await expect(attempt).rejects.toBeInstanceOf(ResultTooLargeError);
    await expect(attempt).rejects.toThrow(/4\d{3} bytes of JSON; the limit is 4096 bytes/);
    await expect(attempt).rejects.toMatchObject({ limit: 4096, bytes: JSON.stringify(result).length });
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toEqual(stored);
  });

  it('stores a result within the limit', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a')]);
    const result = { id: 'r-1', items: [1, 2, 3], ok: true, nothing: null };

    const moved = await store.transitionPlugin(
      pluginKey('u-1', 'a'),
      [STATES.inProgress],
      { state: STATES.complete, result },
      {
        generation: 1,
      },
    );

    expect(moved.applied && moved.record.result).toEqual(result);
  });

  it('never overwrites a plugin record that moved on, but replaces one of an older generation', async () => {
    const { store } = await setup();
    const notStarted = pluginRecord('u-1', 'a', { state: STATES.notStarted, attempt: 0 });
    await store.putPluginsIfAbsent([notStarted]);
    await store.transitionPlugin(
      pluginKey('u-1', 'a'),
      [STATES.notStarted],
      { state: STATES.inProgress, attempt: 1 },
      {
        generation: 1,
      },
    );

    await store.putPluginsIfAbsent([notStarted]);
    const afterRepeat = await store.getPlugin(pluginKey('u-1', 'a'));
    await store.putPluginsIfAbsent([{ ...notStarted, generation: 2 }]);
    const afterRerun = await store.getPlugin(pluginKey('u-1', 'a'));

    expect(afterRepeat).toMatchObject({ state: STATES.inProgress, attempt: 1, generation: 1 });
    expect(afterRerun).toMatchObject({ state: STATES.notStarted, attempt: 0, generation: 2 });
  });

  it('counts late reports on an existing plugin and creates nothing for an unknown one', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a', { state: STATES.complete })]);

    await store.recordLateReport(pluginKey('u-1', 'a'));
    await store.recordLateReport(pluginKey('u-1', 'a'));
    await store.recordLateReport(pluginKey('u-1', 'ghost'));

    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toMatchObject({ lateReports: 2, updatedAt: T0 });
    expect(await store.getPlugin(pluginKey('u-1', 'ghost'))).toBeUndefined();
  });
});

describe('claimTimeout', () => {
  it('claims one timeout per attempt in flight, and again only after the resend interval', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([
      pluginRecord('u-1', 'a', { state: STATES.inProgress, attempt: 1 }),
      pluginRecord('u-1', 'done', { state: STATES.complete, attempt: 1 }),
    ]);
    const expected = { generation: 1, attempt: 1 };
    const at = (s: number) => new Date(Date.parse(T0) + s * 1000).toISOString();

    const first = await store.claimTimeout(pluginKey('u-1', 'a'), expected, at(100), at(70));
    const again = await store.claimTimeout(pluginKey('u-1', 'a'), expected, at(101), at(71));
    const later = await store.claimTimeout(pluginKey('u-1', 'a'), expected, at(131), at(101));
    const otherAttempt = await store.claimTimeout(
      pluginKey('u-1', 'a'),
      { generation: 1, attempt: 2 },
      at(200),
      at(170),
    );
    const finished = await store.claimTimeout(pluginKey('u-1', 'done'), expected, at(100), at(70));
    const missing = await store.claimTimeout(pluginKey('u-1', 'ghost'), expected, at(100), at(70));

    expect([first, again, later, otherAttempt, finished, missing]).toEqual([
      true,
      false,
      true,
      false,
      false,
      false,
    ]);
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toMatchObject({
      timeoutSentAt: at(131),
      attempt: 1,
    });
    expect(await store.getPlugin(pluginKey('u-1', 'ghost'))).toBeUndefined();
  });
});

describe('recordFinalOutcomes', () => {
  const stage = { ...stageKey('u-1'), generation: 1 };

  it('counts each plugin once when the same outcomes are delivered twice', async () => {
    const { store, clock } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 2, optionalPending: 1 }));
    await store.putPluginsIfAbsent([
      pluginRecord('u-1', 'a'),
      pluginRecord('u-1', 'b'),
      pluginRecord('u-1', 'c', { mandatory: false }),
    ]);
    const outcomes = [
      completion('u-1', 'a'),
      completion('u-1', 'b', { patch: { state: STATES.error, message: 'bad input' } }),
      completion('u-1', 'c', { countDown: 'optional' }),
    ];

    const first = await store.recordFinalOutcomes(stage, outcomes);
    const stageAfterFirst = await store.getStage(stageKey('u-1'));
    clock.advance(1_000);
    const second = await store.recordFinalOutcomes(stage, outcomes);

    expect(first.applied.map((k) => k.plugin)).toEqual(['a', 'b', 'c']);
    expect(first.refused).toEqual([]);
    expect(second.applied).toEqual([]);
    expect(second.refused.map((k) => k.plugin)).toEqual(['a', 'b', 'c']);
    expect(stageAfterFirst).toMatchObject({ mandatoryPending: 0, optionalPending: 0 });
    expect(await store.getStage(stageKey('u-1'))).toEqual(stageAfterFirst);
    expect(await store.getPlugin(pluginKey('u-1', 'b'))).toMatchObject({
      state: STATES.error,
      message: 'bad input',
      updatedAt: T0,
      stateTimes: { [STATES.inProgress]: T0, [STATES.error]: T0 },
    });
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).not.toHaveProperty('deadline');
  });

  it('applies the same plugin once when it appears twice in one call', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 2 }));
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a'), pluginRecord('u-1', 'b')]);

    const result = await store.recordFinalOutcomes(stage, [
      completion('u-1', 'a'),
      completion('u-1', 'a', { patch: { state: STATES.error } }),
    ]);

    expect(result.applied.map((k) => k.plugin)).toEqual(['a']);
    expect(result.refused.map((k) => k.plugin)).toEqual(['a']);
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toMatchObject({ state: STATES.complete });
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 1 });
  });

  it('refuses stale outcomes (other attempt or generation) and counts down only the applied ones', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 3 }));
    await store.putPluginsIfAbsent([
      pluginRecord('u-1', 'a'),
      pluginRecord('u-1', 'b', { attempt: 2 }),
      pluginRecord('u-1', 'c'),
    ]);

    const result = await store.recordFinalOutcomes(stage, [
      completion('u-1', 'a'),
      completion('u-1', 'b', { attempt: 1 }),
      completion('u-1', 'c', { generation: 2 }),
    ]);

    expect(result.applied.map((k) => k.plugin)).toEqual(['a']);
    expect(result.refused.map((k) => k.plugin).sort()).toEqual(['b', 'c']);
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 2 });
    expect(await store.getPlugin(pluginKey('u-1', 'b'))).toMatchObject({ state: STATES.inProgress });
  });

  it('never lets a counter go below zero: the whole transaction is refused with a typed error', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 1 }));
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a'), pluginRecord('u-1', 'b')]);

    const attempt = store.recordFinalOutcomes(stage, [completion('u-1', 'a'), completion('u-1', 'b')]);

    await expect(attempt).rejects.toBeInstanceOf(CountDownRefusedError);
    await expect(attempt).rejects.toMatchObject({ reason: 'underflow', retryable: false });
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 1 });
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toMatchObject({ state: STATES.inProgress });
  });

  it('refuses to count down a stage of another generation', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { generation: 2, mandatoryPending: 1 }));
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a')]);

    const attempt = store.recordFinalOutcomes(stage, [completion('u-1', 'a')]);

    await expect(attempt).rejects.toMatchObject({ name: 'CountDownRefusedError', reason: 'generation' });
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toMatchObject({ state: STATES.inProgress });
  });

  it('rejects an outcome of another stage, and an empty from-list, before writing anything', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 1 }));
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a')]);

    const otherStage = store.recordFinalOutcomes(stage, [
      completion('u-1', 'a'),
      completion('u-1', 'b', { key: { ...pluginKey('u-1', 'b'), stage: 'post' } }),
    ]);
    const noStates = store.recordFinalOutcomes(stage, [completion('u-1', 'a', { from: [] })]);

    await expect(otherStage).rejects.toBeInstanceOf(InvalidStoreRequestError);
    await expect(noStates).rejects.toThrow(/"from" must name at least one state/);
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 1 });
  });

  it('writes nothing when one outcome carries an oversized result', async () => {
    const { store } = await setup();
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 2 }));
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a'), pluginRecord('u-1', 'b')]);

    const attempt = store.recordFinalOutcomes(stage, [
      completion('u-1', 'a'),
      completion('u-1', 'b', { patch: { state: STATES.complete, result: 'y'.repeat(5000) } }),
    ]);

    await expect(attempt).rejects.toBeInstanceOf(ResultTooLargeError);
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 2 });
    expect(await store.getPlugin(pluginKey('u-1', 'a'))).toMatchObject({ state: STATES.inProgress });
  });
});

describe('reads', () => {
  it('returns undefined for a run that does not exist', async () => {
    const { store } = await setup();

    expect(await store.readRun({ workflow: WORKFLOW, uid: 'nope' })).toBeUndefined();
  });

  it('lists the plugins of one stage only', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([
      pluginRecord('u-1', 'a'),
      pluginRecord('u-1', 'b'),
      { ...pluginRecord('u-1', 'c'), stage: 'pre' },
      { ...pluginRecord('u-1', 'd'), activity: 'ship' },
      pluginRecord('u-2', 'e'),
    ]);

    const listed = await store.listStagePlugins(stageKey('u-1'));

    expect(listed.map((p) => p.plugin)).toEqual(['a', 'b']);
  });

  it('lists the plugins still in progress whose deadline has passed', async () => {
    const { store } = await setup();
    await store.putPluginsIfAbsent([
      pluginRecord('u-1', 'late', { deadline: at(299_999) }),
      pluginRecord('u-1', 'in-time', { deadline: at(300_001) }),
      pluginRecord('u-1', 'done', { state: STATES.complete, deadline: at(60_000) }),
      { ...pluginRecord('u-1', 'other-stage', { deadline: at(60_000) }), stage: 'post' },
      pluginRecord('u-1', 'undispatched', { state: STATES.notStarted, deadline: undefined }),
    ]);

    const overdue = await store.listOverduePlugins({ workflow: WORKFLOW, uid: 'u-1' }, at(300_000));

    expect(overdue.map((p) => `${p.stage}/${p.plugin}`).sort()).toEqual([
      'parallel/late',
      'post/other-stage',
    ]);
  });

  it('throws CorruptItemError naming the item when a stored record has no state', async () => {
    const { store, table } = await setup();
    await store.createRunIfAbsent(runRecord('u-1'));
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: {
          pk: { S: runPk(WORKFLOW, 'u-1') },
          sk: { S: stageSk('check', 'pre') },
          workflow: { S: WORKFLOW },
        },
      }),
    );

    const read = store.readRun({ workflow: WORKFLOW, uid: 'u-1' });

    await expect(read).rejects.toBeInstanceOf(CorruptItemError);
    await expect(read).rejects.toThrow(`pk "RUN#${WORKFLOW}#u-1", sk "STAGE#check#pre"`);
  });

  it('keeps the plugin key layout of the table contract', async () => {
    const { store, table } = await setup();
    await store.putPluginsIfAbsent([pluginRecord('u-1', 'a')]);

    const item = await rawItem(table, runPk(WORKFLOW, 'u-1'), pluginSk('check', 'parallel', 'a'));

    expect(item).toMatchObject({ plugin: 'a', expiresAt: Date.parse(T0) / 1000 + 90 * DAY_SECONDS });
  });
});

describe('run listings', () => {
  /** Creates runs u-0..u-(n-1), one minute apart (u-(n-1) is the newest). */
  async function createRuns(store: DynamoStatusStore, count: number, workflow = WORKFLOW): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      const at = new Date(Date.parse(T0) + i * 60_000).toISOString();
      await store.createRunIfAbsent(
        runRecord(`u-${i}`, {
          workflow,
          createdAt: at,
          updatedAt: at,
          stateTimes: { [STATES.inProgress]: at },
        }),
      );
    }
  }

  async function collect(
    list: (options: {
      limit: number;
      nextToken?: string;
    }) => Promise<{ runs: readonly RunRecord[]; nextToken?: string }>,
    limit: number,
  ): Promise<{ uids: string[]; pages: number }> {
    const uids: string[] = [];
    let pages = 0;
    let nextToken: string | undefined;
    do {
      const page = await list({ limit, ...(nextToken ? { nextToken } : {}) });
      pages += 1;
      uids.push(...page.runs.map((r) => r.uid));
      nextToken = page.nextToken;
    } while (nextToken);
    return { uids, pages };
  }

  it('lists only active runs, newest first, page by page, and drops runs that finish', async () => {
    const { store } = await setup();
    await createRuns(store, 7);
    await createRuns(store, 2, 'billing');
    for (const uid of ['u-1', 'u-4']) {
      await store.transitionRun({ workflow: WORKFLOW, uid }, [STATES.inProgress], { state: STATES.complete });
    }

    const listed = await collect((options) => store.listActiveRuns(WORKFLOW, options), 2);

    expect(listed.uids).toEqual(['u-6', 'u-5', 'u-3', 'u-2', 'u-0']);
    expect(listed.pages).toBeGreaterThanOrEqual(3);
  });

  it('lists every run of a workflow, newest first, finished ones included', async () => {
    const { store } = await setup();
    await createRuns(store, 5);
    await store.transitionRun({ workflow: WORKFLOW, uid: 'u-2' }, [STATES.inProgress], {
      state: STATES.error,
    });

    const listed = await collect((options) => store.listRuns(WORKFLOW, options), 3);

    expect(listed.uids).toEqual(['u-4', 'u-3', 'u-2', 'u-1', 'u-0']);
  });

  it('rejects a page token that is garbage or belongs to another workflow', async () => {
    const { store } = await setup();
    await createRuns(store, 3);
    await createRuns(store, 3, 'billing');
    const billingPage = await store.listActiveRuns('billing', { limit: 1 });

    const garbage = store.listActiveRuns(WORKFLOW, { nextToken: 'not a token!' });
    const wrongShape = store.listActiveRuns(WORKFLOW, {
      nextToken: Buffer.from(JSON.stringify({ pk: 'x' })).toString('base64url'),
    });
    const otherWorkflow = store.listActiveRuns(WORKFLOW, { nextToken: billingPage.nextToken, limit: 1 });

    expect(billingPage.nextToken).toBeDefined();
    await expect(garbage).rejects.toBeInstanceOf(InvalidPageTokenError);
    await expect(wrongShape).rejects.toThrow(/not a page token of listActiveRuns for workflow "orders"/);
    await expect(otherWorkflow).rejects.toThrow(/another workflow/);
  });

  it('rejects a page size outside 1..1000', async () => {
    const { store } = await setup();

    await expect(store.listRuns(WORKFLOW, { limit: 0 })).rejects.toBeInstanceOf(InvalidStoreRequestError);
    await expect(store.listActiveRuns(WORKFLOW, { limit: 1001 })).rejects.toThrow(/limit must be an integer/);
  });
});
