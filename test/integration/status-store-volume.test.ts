/**
 * The DynamoDB status store at volume, against moto: a run with 1,000 plugin executions is written
 * through putPluginsIfAbsent and read back whole across several query pages.
 */
import { describe, expect, it } from 'vitest';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import {
  pluginNames as names,
  pluginRecord,
  runRecord,
  stageRecord,
  WORKFLOW,
} from '../fixtures/status-records.js';
import { useMoto } from '../support/moto.js';
import { countRequests, createStatusTable } from '../support/status-table.js';

const moto = useMoto();

async function setup() {
  const table = await createStatusTable(moto.endpoint);
  const store = new DynamoStatusStore({ tableName: table.tableName, client: table.documentClient });
  return { table, store };
}

describe('readRun at volume', () => {
  it('reads a run with 1,000 plugin executions back whole, across several query pages', async () => {
    const { store, table } = await setup();
    const plugins = names(1000);
    // ~2 KB per item: 2 MB in all, so DynamoDB's 1 MB page limit forces pagination.
    const result = { note: 'r'.repeat(2000) };
    await store.createRunIfAbsent(runRecord('u-1'));
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 1000 }));
    await store.putPluginsIfAbsent(plugins.map((p) => pluginRecord('u-1', p, { result })));
    const queries = countRequests(table.documentClient, 'QueryCommand');

    const snapshot = await store.readRun({ workflow: WORKFLOW, uid: 'u-1' });

    expect(queries.count).toBeGreaterThanOrEqual(2);
    expect(snapshot?.run.uid).toBe('u-1');
    expect(snapshot?.stages).toHaveLength(1);
    expect(snapshot?.plugins.map((p) => p.plugin)).toEqual(plugins);
    expect(snapshot?.plugins[999]).toEqual(pluginRecord('u-1', 'p0999', { result }));
  }, 180_000); // 2 MB of items through moto: seconds, more on a loaded machine
});
