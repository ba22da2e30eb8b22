/**
 * Narrow stages that hold their plugins (ADR 0007), against moto: one item per stage, one versioned
 * conditional write per batch of outcomes that also completes the stage, concurrent writers decided
 * again on the item as it is, and every reader (the run, a plugin, the overdue list) seeing the held
 * records.
 */
import { describe, expect, it } from 'vitest';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import { HELD_PLUGINS_ATTRIBUTE, runPk, STATES, stageSk } from '../../lambdas/contracts/index.js';
import type { PluginRecord, StageRecord } from '../../lambdas/engine/records.js';
import {
  at,
  completion,
  fakeClock,
  pluginKey,
  pluginRecord,
  runRecord,
  stageKey,
  stageRecord,
  WORKFLOW,
} from '../fixtures/status-records.js';
import { useMoto } from '../support/moto.js';
import { createStatusTable, rawItem } from '../support/status-table.js';

const moto = useMoto();

async function setup() {
  const table = await createStatusTable(moto.endpoint);
  const clock = fakeClock();
  const store = () =>
    new DynamoStatusStore({ tableName: table.tableName, client: table.documentClient, clock });
  return { table, clock, store: store(), another: store() };
}

const held = (uid: string, names: readonly string[], overrides: Partial<StageRecord> = {}) => ({
  stage: stageRecord(uid, {
    holdsPlugins: true,
    mandatoryPending: names.length,
    ...overrides,
  }),
  plugins: names.map((name) => ({ ...pluginRecord(uid, name), inStage: true }) as PluginRecord),
});

describe('a stage that holds its plugins', () => {
  it('is one item: the stage with a compact entry per plugin, read back as the same records', async () => {
    const { table, store } = await setup();
    const { stage, plugins } = held('u-1', ['a', 'b']);

    const created = await store.createStageIfAbsent(stage, plugins);
    const view = await store.readStage(stageKey('u-1'));

    expect(created.created).toBe(true);
    expect(view?.stage).toMatchObject({ state: STATES.inProgress, mandatoryPending: 2, holdsPlugins: true });
    expect(view?.plugins?.map((p) => [p.plugin, p.state, p.attempt, p.deadline])).toEqual([
      ['a', STATES.inProgress, 1, at(300_000)],
      ['b', STATES.inProgress, 1, at(300_000)],
    ]);
    const item = await rawItem(table, runPk(WORKFLOW, 'u-1'), stageSk('check', 'parallel'));
    expect(Object.keys(item?.[HELD_PLUGINS_ATTRIBUTE] ?? {})).toEqual(['a', 'b']);
    expect(item).not.toHaveProperty('mandatoryPending');
    // No plugin items exist: the run reads its plugins from the stage.
    await store.createRunIfAbsent(runRecord('u-1'));
    const snapshot = await store.readRun({ workflow: WORKFLOW, uid: 'u-1' });
    expect(snapshot?.plugins.map((p) => p.plugin)).toEqual(['a', 'b']);
  });

  it('applies a batch of outcomes in one write that completes the stage, exactly once', async () => {
    const { store } = await setup();
    const { stage, plugins } = held('u-1', ['a', 'b']);
    await store.createStageIfAbsent(stage, plugins);

    const first = await store.recordFinalOutcomes(stage, [completion('u-1', 'a')]);
    const last = await store.recordFinalOutcomes(stage, [
      completion('u-1', 'b', { patch: { state: STATES.complete, deadline: null, result: { n: 1 } } }),
    ]);
    const again = await store.recordFinalOutcomes(stage, [completion('u-1', 'b')]);

    expect(first).toMatchObject({
      completed: false,
      stage: { state: STATES.inProgress, mandatoryPending: 1 },
    });
    expect(last).toMatchObject({ completed: true, stage: { state: STATES.complete, mandatoryPending: 0 } });
    expect(last.plugins?.find((p) => p.plugin === 'b')).toMatchObject({
      state: STATES.complete,
      result: { n: 1 },
    });
    expect(again.applied).toEqual([]);
    expect(again.refused).toEqual([pluginKey('u-1', 'b')]);
    expect(again.completed).toBe(false);
  });

  it('moves to Mandatory Completed when only optional plugins are pending', async () => {
    const { store } = await setup();
    const stage = stageRecord('u-1', { holdsPlugins: true });
    const plugins = [
      { ...pluginRecord('u-1', 'must'), inStage: true },
      { ...pluginRecord('u-1', 'may', { mandatory: false }), inStage: true },
    ];
    await store.createStageIfAbsent(stage, plugins);

    const result = await store.recordFinalOutcomes(stage, [completion('u-1', 'must')]);

    expect(result).toMatchObject({ completed: false, stage: { state: STATES.mandatoryCompleted } });
  });

  it('completes once when two stores count the last two plugins down from the same stale read', async () => {
    // moto does not serialize concurrent conditional writes on one item (2 of 10 racing pairs both
    // succeeded when measured; AWS does, and the local cloud's proxy serializes DynamoDB writes), so
    // the race is played in order: both remember the stage with a and b pending, then write.
    const { store, another } = await setup();
    const { stage, plugins } = held('u-1', ['a', 'b']);
    await store.createStageIfAbsent(stage, plugins);
    await Promise.all([store.readStage(stageKey('u-1')), another.readStage(stageKey('u-1'))]);

    const two = await another.recordFinalOutcomes(stage, [completion('u-1', 'b')]);
    const one = await store.recordFinalOutcomes(stage, [completion('u-1', 'a')]);

    // The second write is refused on its version, decided again on the stage as stored, and completes it.
    expect(two).toMatchObject({ completed: false, stage: { state: STATES.inProgress, mandatoryPending: 1 } });
    expect(one).toMatchObject({ completed: true, stage: { state: STATES.complete, mandatoryPending: 0 } });
    expect([...one.applied, ...two.applied]).toHaveLength(2);
    expect((await store.getStage(stageKey('u-1')))?.state).toBe(STATES.complete);
  });

  it('refuses a stale attempt, decides on the stored item when the remembered one is old, and never counts twice', async () => {
    const { store, another } = await setup();
    const { stage, plugins } = held('u-1', ['a', 'b']);
    await store.createStageIfAbsent(stage, plugins);
    await store.readStage(stageKey('u-1'));
    // Another store moves a to its second attempt; the first still remembers attempt 1.
    await another.transitionPlugin(
      { ...plugins[0], inStage: true } as PluginRecord,
      [STATES.inProgress],
      { state: STATES.notStarted },
      { generation: 1, attempt: 1 },
    );

    const stale = await store.recordFinalOutcomes(stage, [completion('u-1', 'a')]);
    const current = await store.transitionPlugin(
      { ...plugins[0], inStage: true } as PluginRecord,
      [STATES.notStarted],
      { state: STATES.inProgress, attempt: 2, deadline: at(600_000) },
      { generation: 1, attempt: 1 },
    );

    expect(stale.applied).toEqual([]);
    expect(current).toMatchObject({ applied: true, record: { state: STATES.inProgress, attempt: 2 } });
    expect((await store.getStage(stageKey('u-1')))?.mandatoryPending).toBe(2);
  });

  it('fails and fences through a bare key, and a later outcome is decided on the fenced stage', async () => {
    const { store, another } = await setup();
    const { stage, plugins } = held('u-1', ['a']);
    await store.createStageIfAbsent(stage, plugins);
    await store.readStage(stageKey('u-1'));

    const fenced = await another.transitionStage(
      stageKey('u-1'),
      [STATES.inProgress],
      { state: STATES.cancelled, message: 'the run was cancelled' },
      { generation: 1 },
    );
    const late = await store.recordFinalOutcomes(stage, [completion('u-1', 'a')]);

    expect(fenced.applied).toBe(true);
    // The outcome is still recorded on its plugin, but a cancelled stage never completes.
    expect(late.completed).toBe(false);
    expect(late.stage?.state).toBe(STATES.cancelled);
  });

  it('claims one timeout per attempt and counts late reports on the held entry', async () => {
    const { store } = await setup();
    const { stage, plugins } = held('u-1', ['a']);
    await store.createStageIfAbsent(stage, plugins);
    const record = plugins[0] as PluginRecord;

    const claimed = await store.claimTimeout(record, { generation: 1, attempt: 1 }, at(301_000), at(271_000));
    const again = await store.claimTimeout(record, { generation: 1, attempt: 1 }, at(302_000), at(272_000));
    const later = await store.claimTimeout(record, { generation: 1, attempt: 1 }, at(340_000), at(310_000));
    await store.recordLateReport(pluginKey('u-1', 'a'));
    await store.recordLateReport(pluginKey('u-1', 'nobody'));

    expect([claimed, again, later]).toEqual([true, false, true]);
    const plugin = await store.getPlugin(pluginKey('u-1', 'a'));
    expect(plugin).toMatchObject({ lateReports: 1, timeoutSentAt: at(340_000), inStage: true });
    expect(await store.getPlugin(pluginKey('u-1', 'nobody'))).toBeUndefined();
  });

  it('lists overdue held plugins, and prefers an operator mark of a newer generation', async () => {
    const { store } = await setup();
    const { stage, plugins } = held('u-1', ['a', 'b']);
    await store.createStageIfAbsent(stage, [
      plugins[0] as PluginRecord,
      { ...(plugins[1] as PluginRecord), deadline: at(900_000) },
    ]);
    // A rerun's operator mark for b, before the stage is entered again.
    await store.putPluginsIfAbsent([
      pluginRecord('u-1', 'b', { generation: 2, state: STATES.doNotRun, attempt: 0 }),
    ]);

    const overdue = await store.listOverduePlugins({ workflow: WORKFLOW, uid: 'u-1' }, at(400_000));
    const b = await store.getPlugin(pluginKey('u-1', 'b'));
    const listed = await store.listStagePlugins(stageKey('u-1'), { withHeld: true });

    expect(overdue.map((p) => p.plugin)).toEqual(['a']);
    expect(b).toMatchObject({ generation: 2, state: STATES.doNotRun });
    expect(listed.map((p) => [p.plugin, p.generation])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });
});

describe("a run's marks", () => {
  it('names each marked stage once, reads back as a sorted list, and a rerun clears them', async () => {
    const { store } = await setup();
    const run = runRecord('u-m');
    await store.createRunIfAbsent(run);

    await store.transitionRun(run, [STATES.inProgress], { mark: 'ship/pre' }, { generation: 1 });
    await store.transitionRun(run, [STATES.inProgress], { mark: 'check/parallel' }, { generation: 1 });
    const again = await store.transitionRun(
      run,
      [STATES.inProgress],
      { mark: 'ship/pre' },
      { generation: 1 },
    );
    expect(again.applied).toBe(true);
    expect((await store.getRun(run))?.marked).toEqual(['check/parallel', 'ship/pre']);

    const stale = await store.transitionRun(run, [STATES.inProgress], { mark: 'x/post' }, { generation: 2 });
    expect(stale.applied).toBe(false);

    await store.transitionRun(run, [STATES.inProgress], { state: STATES.complete }, { generation: 1 });
    await store.transitionRun(run, [STATES.complete], { state: STATES.inProgress, generation: 2 });
    const rerun = await store.getRun(run);
    expect(rerun?.generation).toBe(2);
    expect(rerun?.marked).toBeUndefined();
  });
});

describe("a plugin's attempt history", () => {
  const archive = (attempt: number, message: string) => ({
    attempt,
    outcome: STATES.error,
    startedAt: at(0),
    endedAt: at(1_000),
    message,
  });

  it('appends an ended attempt once, in a held entry and in an own item alike', async () => {
    const { store } = await setup();
    const { stage, plugins } = held('u-h', ['a']);
    await store.createStageIfAbsent(stage, plugins);
    const own = pluginRecord('u-o', 'b');
    await store.putPluginsIfAbsent([own]);

    for (const key of [{ ...pluginKey('u-h', 'a'), inStage: true }, pluginKey('u-o', 'b')]) {
      const patch = {
        state: STATES.notStarted,
        deadline: null,
        message: 'down',
        archive: archive(1, 'down'),
      };
      const first = await store.transitionPlugin(key, [STATES.inProgress], patch, {
        generation: 1,
        attempt: 1,
      });
      const again = await store.transitionPlugin(key, [STATES.inProgress], patch, {
        generation: 1,
        attempt: 1,
      });
      expect([first.applied, again.applied]).toEqual([true, false]);
      await store.transitionPlugin(
        key,
        [STATES.notStarted],
        { state: STATES.inProgress, attempt: 2, message: null },
        { generation: 1, attempt: 1 },
      );
      const read = await store.getPlugin(key);
      expect(read).toMatchObject({ state: STATES.inProgress, attempt: 2 });
      expect(read?.history).toEqual([archive(1, 'down')]);
    }
  });
});
