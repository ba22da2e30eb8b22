/**
 * The DynamoDB status store's count-down at volume and under concurrency, against moto: outcomes
 * across several transactions, and many concurrent calls delivering every outcome twice.
 */
import { describe, expect, it } from 'vitest';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import { STATES } from '../../lambdas/contracts/index.js';
import {
  completion,
  pluginNames as names,
  pluginRecord,
  stageKey,
  stageRecord,
} from '../fixtures/status-records.js';
import { useMoto } from '../support/moto.js';
import { countRequests, createStatusTable, serializeRequests } from '../support/status-table.js';

const moto = useMoto();

async function setup() {
  const table = await createStatusTable(moto.endpoint);
  const store = new DynamoStatusStore({ tableName: table.tableName, client: table.documentClient });
  return { table, store };
}

// Hundreds of items through moto's transactions: tens of seconds on a loaded machine.
describe('recordFinalOutcomes at volume', { timeout: 180_000 }, () => {
  const stage = { ...stageKey('u-1'), generation: 1 };

  it('counts 150 outcomes exactly across more than one transaction', async () => {
    const { store } = await setup();
    const plugins = names(150);
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 100, optionalPending: 50 }));
    await store.putPluginsIfAbsent(plugins.map((p, i) => pluginRecord('u-1', p, { mandatory: i < 100 })));

    const result = await store.recordFinalOutcomes(
      stage,
      plugins.map((p, i) => completion('u-1', p, { countDown: i < 100 ? 'mandatory' : 'optional' })),
    );

    expect(result.applied).toHaveLength(150);
    expect(result.refused).toHaveLength(0);
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 0, optionalPending: 0 });
    const states = (await store.listStagePlugins(stageKey('u-1'))).map((p) => p.state);
    expect(states).toEqual(plugins.map(() => STATES.complete));
  });

  it('leaves the counter at exactly 0 when 20 concurrent calls deliver 200 completions twice', async () => {
    const { store, table } = await setup();
    // DynamoDB isolates every request; moto does not isolate transactions (see serializeRequests), so
    // requests go one at a time while the 20 calls interleave between them.
    serializeRequests(table.documentClient);
    const transactions = countRequests(table.documentClient, 'TransactWriteItemsCommand');
    const plugins = names(200);
    await store.createStageIfAbsent(stageRecord('u-1', { mandatoryPending: 200 }));
    await store.putPluginsIfAbsent(plugins.map((p) => pluginRecord('u-1', p)));
    // Call c gets the plugins with index ≡ c and ≡ c+1 (mod 20): every plugin arrives in two calls.
    const calls = Array.from({ length: 20 }, (_, c) =>
      plugins.filter((_, i) => i % 20 === c || i % 20 === (c + 1) % 20).map((p) => completion('u-1', p)),
    );

    const results = await Promise.all(calls.map((outcomes) => store.recordFinalOutcomes(stage, outcomes)));

    const applied = results.flatMap((r) => r.applied.map((k) => k.plugin));
    expect(applied).toHaveLength(200);
    expect(new Set(applied).size).toBe(200);
    expect(results.reduce((sum, r) => sum + r.refused.length, 0)).toBe(200);
    expect(await store.getStage(stageKey('u-1'))).toMatchObject({ mandatoryPending: 0, optionalPending: 0 });
    // Duplicates were caught by the conditions of interleaved transactions, not only within a call.
    expect(transactions.count).toBeGreaterThan(20);
  });
});
