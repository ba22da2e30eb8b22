/** ADR 0010: the shard of a run is a stable hash of its uid, spread evenly; the setting is validated. */
import { describe, expect, it } from 'vitest';
import { indexPartitions, indexShard, isPartitionOf, shardKey } from '../../../lambdas/contracts/index.js';
import { parseWorkflowConfig, runtimeConfigJson } from '../../../lib/config/workflow-config.js';
import { ConfigValidationError } from '../../../lib/errors.js';

describe('index shards', () => {
  it('keeps the shard of a uid stable across releases (FNV-1a 32 bit, modulo the count)', () => {
    expect([indexShard('order-1', 16), indexShard('u-1', 16), indexShard('abc', 64)]).toEqual([13, 2, 11]);
  });

  it('spreads 16,000 uids over 16 shards within 10 % of an even share each', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i += 1) {
      const shard = indexShard(`order-${i}`, 16);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    expect(Math.max(...counts)).toBeLessThan(1_100);
    expect(Math.min(...counts)).toBeGreaterThan(900);
  });

  it('names every shard partition and the legacy one, and tells a workflow from one with a longer name', () => {
    expect(indexPartitions('order', 3)).toEqual(['order#00', 'order#01', 'order#02', 'order']);
    expect(isPartitionOf(shardKey('order', 7), 'order')).toBe(true);
    expect(isPartitionOf('order', 'order')).toBe(true);
    expect(isPartitionOf(shardKey('order-x', 7), 'order')).toBe(false);
  });

  it('validates statusTable.indexShards and passes a non-default count to the functions', () => {
    const base = { workflows: [{ name: 'order', activities: ['intake'] }], activities: { intake: {} } };
    const parsed = parseWorkflowConfig({ ...base, statusTable: { indexShards: 32 } }).config;
    const defaulted = parseWorkflowConfig(base).config;

    expect(JSON.parse(runtimeConfigJson(parsed)).indexShards).toBe(32);
    expect(JSON.parse(runtimeConfigJson(defaulted))).not.toHaveProperty('indexShards');
    expect(() => parseWorkflowConfig({ ...base, statusTable: { indexShards: 65 } })).toThrow(
      ConfigValidationError,
    );
    expect(() => parseWorkflowConfig({ ...base, statusTable: { indexShards: 65 } })).toThrow(
      /statusTable.indexShards must be at most 64/,
    );
  });
});
