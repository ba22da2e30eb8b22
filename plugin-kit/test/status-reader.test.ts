import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createStatusReader,
  encodeHeldPlugin,
  HELD_PLUGINS_ATTRIBUTE,
  isConfigurationError,
  isStatusReadError,
  pluginSk,
  runPk,
  type StatusItemStore,
  stageSk,
} from '../src/index.js';
import { InMemoryStatusTable } from '../src/testing/index.js';

const RUN = { workflow: 'orders', uid: 'o-1' } as const;

function seededTable(): InMemoryStatusTable {
  const table = new InMemoryStatusTable();
  table.putPluginStatus(
    { ...RUN, activity: 'approve', stage: 'pre', plugin: 'enrich' },
    {
      state: 'Complete',
      result: { segment: 'gold' },
    },
  );
  table.putPluginStatus(
    { ...RUN, activity: 'approve', stage: 'parallel', plugin: 'score' },
    { state: 'In Progress' },
  );
  table.putPluginStatus(
    { ...RUN, activity: 'ship', stage: 'pre', plugin: 'label' },
    { state: 'Not Started', attempt: 0 },
  );
  table.put({ pk: runPk(RUN.workflow, RUN.uid), sk: 'RUN', state: 'In Progress' });
  return table;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('createStatusReader', () => {
  it("returns another plugin's typed status and result with a consistent read", async () => {
    const table = seededTable();
    const reader = createStatusReader({ store: table, tableName: 'status' });

    const status = await reader.getPlugin({ ...RUN, activity: 'approve', stage: 'pre', plugin: 'enrich' });

    expect(status).toMatchObject({
      ...RUN,
      activity: 'approve',
      stage: 'pre',
      plugin: 'enrich',
      state: 'Complete',
      generation: 1,
      attempt: 1,
      result: { segment: 'gold' },
    });
    // Its stage's item (a narrow stage holds its plugins) and its own item (a wide stage's).
    expect(table.reads).toEqual([
      { operation: 'GetItem', consistentRead: true },
      { operation: 'GetItem', consistentRead: true },
    ]);
  });

  it('returns undefined for a plugin without a record', async () => {
    const reader = createStatusReader({ store: seededTable(), tableName: 'status' });

    await expect(
      reader.getPlugin({ ...RUN, activity: 'approve', stage: 'pre', plugin: 'nobody' }),
    ).resolves.toBe(undefined);
  });

  it('lists the plugins of a run, of an activity, or of one activity stage (never the run item)', async () => {
    const reader = createStatusReader({ store: seededTable(), tableName: 'status' });

    const all = await reader.listPlugins(RUN);
    const approve = await reader.listPlugins(RUN, { activity: 'approve' });
    const approvePre = await reader.listPlugins(RUN, { activity: 'approve', stage: 'pre' });
    const allPre = await reader.listPlugins(RUN, { stage: 'pre' });

    expect(all.map((s) => s.plugin)).toEqual(['score', 'enrich', 'label']);
    expect(approve.map((s) => s.plugin)).toEqual(['score', 'enrich']);
    expect(approvePre.map((s) => s.plugin)).toEqual(['enrich']);
    expect(allPre.map((s) => `${s.activity}/${s.plugin}`)).toEqual(['approve/enrich', 'ship/label']);
  });

  it('reads the plugins a narrow stage holds in its own item, the newer generation winning', async () => {
    const table = seededTable();
    table.put({
      pk: runPk(RUN.workflow, RUN.uid),
      sk: stageSk('approve', 'parallel'),
      generation: 2,
      createdAt: '2026-12-04T10:00:00.000Z',
      [HELD_PLUGINS_ATTRIBUTE]: {
        score: encodeHeldPlugin({
          state: 'Complete',
          attempt: 2,
          mandatory: true,
          order: 10,
          maxAttempts: 3,
          deadlineSeconds: 30,
          result: { points: 7 },
          stateTimes: { 'In Progress': '2026-12-04T10:00:00.000Z', Complete: '2026-12-04T10:00:01.500Z' },
        }),
      },
    });
    const reader = createStatusReader({ store: table, tableName: 'status' });

    const score = await reader.getPlugin({ ...RUN, activity: 'approve', stage: 'parallel', plugin: 'score' });
    const listed = await reader.listPlugins(RUN, { activity: 'approve' });

    // The stage's generation 2 entry wins over the plugin's own generation 1 item.
    expect(score).toMatchObject({
      state: 'Complete',
      generation: 2,
      attempt: 2,
      result: { points: 7 },
      updatedAt: '2026-12-04T10:00:01.500Z',
    });
    expect(listed.map((p) => [p.stage, p.plugin, p.generation])).toEqual([
      ['parallel', 'score', 2],
      ['pre', 'enrich', 1],
    ]);
  });

  it('asks the store for the run partition and the stage and plugin sort-key prefixes', async () => {
    const queries: unknown[] = [];
    const store: StatusItemStore = {
      getItem: () => Promise.reject(new Error('unused')),
      async query(request) {
        queries.push(request);
        return [];
      },
    };

    await createStatusReader({ store, tableName: 't' }).listPlugins(RUN, {
      activity: 'approve',
      stage: 'post',
    });

    expect(queries).toEqual([
      { tableName: 't', pk: runPk('orders', 'o-1'), skPrefix: 'STAGE#approve#post', consistentRead: true },
      { tableName: 't', pk: runPk('orders', 'o-1'), skPrefix: 'PLUGIN#approve#post#', consistentRead: true },
    ]);
  });

  it('turns a stored null message into undefined', async () => {
    const table = new InMemoryStatusTable();
    table.put({
      pk: runPk('orders', 'o-1'),
      sk: pluginSk('approve', 'pre', 'enrich'),
      state: 'In Progress',
      generation: 1,
      attempt: 1,
      message: null,
    });

    const status = await createStatusReader({ store: table, tableName: 't' }).getPlugin({
      ...RUN,
      activity: 'approve',
      stage: 'pre',
      plugin: 'enrich',
    });

    expect(status?.message).toBeUndefined();
  });

  it('fails with StatusReadError naming the plugin when an item is not a plugin status', async () => {
    const table = new InMemoryStatusTable();
    table.put({ pk: runPk('orders', 'o-1'), sk: pluginSk('approve', 'pre', 'enrich'), state: 'Exploded' });
    const reader = createStatusReader({ store: table, tableName: 't' });

    const error = await reader
      .getPlugin({ ...RUN, activity: 'approve', stage: 'pre', plugin: 'enrich' })
      .catch((e: unknown) => e);

    expect(isStatusReadError(error)).toBe(true);
    expect(error).toHaveProperty('message', expect.stringContaining('plugin "enrich"'));
  });

  it('wraps a store failure in a retryable StatusReadError that keeps the cause', async () => {
    const reader = createStatusReader({
      store: new InMemoryStatusTable({ failReads: true }),
      tableName: 't',
    });

    const error = await reader.listPlugins(RUN).catch((e: unknown) => e);

    expect(isStatusReadError(error)).toBe(true);
    expect(error).toHaveProperty('retryable', true);
    expect(error).toHaveProperty('cause', expect.any(Error));
  });

  it('fails with a ConfigurationError naming PLUGBOARD_STATUS_TABLE when no table is known', async () => {
    vi.stubEnv('PLUGBOARD_STATUS_TABLE', '');
    const reader = createStatusReader({ store: new InMemoryStatusTable() });

    const error = await reader.listPlugins(RUN).catch((e: unknown) => e);

    expect(isConfigurationError(error)).toBe(true);
    expect(error).toHaveProperty('variable', 'PLUGBOARD_STATUS_TABLE');
  });
});
