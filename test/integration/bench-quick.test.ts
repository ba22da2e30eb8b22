/**
 * The benchmark's quick core on moto: the counters it reports are sane (requests counted from what
 * the SDK clients send), and the cost model's arithmetic matches a hand-computed example. Never
 * asserts timings.
 */
import { describe, expect, it } from 'vitest';
import { comparisons, costModel, gbSeconds, stepFunctionsTransitions } from '../../bench/cost.js';
import { indexWriteUnits, itemSize, numberSize, readUnits, writeUnits } from '../../bench/dynamo-units.js';
import { emptyCounts } from '../../bench/meter.js';
import { PRICES } from '../../bench/prices.js';
import { percentiles, runBench } from '../../bench/run.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

describe('the benchmark quick core on moto', () => {
  it('counts 9 dispatch publishes, 21 reports and ≤ 4 report-path WCU per report for reference runs, and completes a 100-plugin stage', async () => {
    const result = await runBench(moto.endpoint, 'quick', {
      plan: { costRuns: 1, inProgressRuns: 1, durationRuns: 1, widths: [100] },
    });

    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.reference.perRun.dispatchPublishes).toBe(9);
    expect(result.reference.perRun.eventPublishes).toBe(2);
    expect(result.reference.perRun.pluginReports).toBe(21);
    expect(result.withInProgress.perRun.pluginReports).toBe(42);
    expect(result.reference.perRun.writeUnits).toBeGreaterThan(21);
    expect(result.reportPathWriteUnitsPerReport).toBeLessThanOrEqual(4);
    expect(result.reference.perRun.startInvocations).toBe(1);
    expect(result.reference.perRun.stageInvocations).toBeGreaterThanOrEqual(9);
    expect(result.wide).toHaveLength(1);
    expect(result.wide[0]).toMatchObject({ width: 100, completed: true, dispatchPublishes: 1 });
    expect(result.wide[0]?.writeUnitsPerReport).toBeLessThanOrEqual(4);
    expect(result.inProgressDeltaUsdPerMillionRuns).toBeGreaterThan(0);

    // The headline: every figure finite and positive, the model's p99 at or above its p50.
    const h = result.headline;
    for (const key of [
      'usdPerMillionRuns',
      'writeUnitsPerRun',
      'readUnitsPerRun',
      'awsRequestsPerRun',
      'latencyModelP50Ms',
      'latencyModelP99Ms',
      'stepFunctionsModelP50Ms',
      'stepFunctionsModelP99Ms',
      'wideWriteUnitsPerPlugin',
    ] as const) {
      expect(Number.isFinite(h[key]), key).toBe(true);
      expect(h[key], key).toBeGreaterThan(0);
    }
    expect(h.usdPerMillionRuns).toBe(result.reference.cost.totalUsdPerMillionRuns);
    expect(h.writeUnitsPerRun).toBe(result.reference.perRun.writeUnits);
    expect(h.latencyModelP99Ms).toBeGreaterThanOrEqual(h.latencyModelP50Ms);
    expect(h.stepFunctionsModelP99Ms).toBeGreaterThanOrEqual(h.stepFunctionsModelP50Ms);
    expect(h.wideWidth).toBe(100);
    expect(h.notes.some((n) => n.includes('width 100'))).toBe(true);
    // Dispatch and reports together cost more per plugin than the reports alone.
    expect(h.wideWriteUnitsPerPlugin).toBeGreaterThan(result.wide[0]?.writeUnitsPerReport ?? Infinity);

    // The latency model follows the measured path: every stage of the reference run, each reached
    // once, with the run's 21 plugins in its fan-outs.
    const path = result.latency.path;
    expect(path.stages).toHaveLength(9);
    expect(path.stages.reduce((sum, s) => sum + s.plugins, 0)).toBe(21);
    // Whether the traced runs shared one path is reported, not required: with no batching window a
    // parallel stage's reports land in one batch or in several, as they happen to arrive.
    expect(typeof path.identicalAcrossRuns).toBe('boolean');
    expect(result.latency.deployed.allAtP50Ms).toBeGreaterThan(0);

    // All-in cost at three volumes for both tracing modes; Active tracing costs more than PassThrough.
    expect(result.allIn.volumes.map((v) => [v.runsPerMonth, v.tracing])).toEqual([
      [1e6, 'Active'],
      [1e7, 'Active'],
      [1e8, 'Active'],
      [1e6, 'PassThrough'],
      [1e7, 'PassThrough'],
      [1e8, 'PassThrough'],
    ]);
    for (const v of result.allIn.volumes) {
      expect(Number.isFinite(v.totalUsdPerMonth)).toBe(true);
      expect(v.allInUsdPerMillionRuns).toBeGreaterThan(h.usdPerMillionRuns);
    }
    expect(h.allInUsdPerMillionRunsAt1M.Active).toBeGreaterThan(h.allInUsdPerMillionRunsAt1M.PassThrough);
  }, 240_000);
});

describe('DynamoDB capacity rules', () => {
  it('sizes items from attribute names and values as AWS documents', () => {
    // "pk"(2)+"run#1"(5) + "n"(1)+123→(2 digits/2 rounded up=2)+1=3 + "ok"(2)+1 + "l"(1)+3+(1+1)+(1+1)
    const item = {
      pk: { S: 'run#1' },
      n: { N: '123' },
      ok: { BOOL: true },
      l: { L: [{ S: 'a' }, { S: 'b' }] },
    };
    expect(numberSize('123')).toBe(3);
    expect(numberSize('1000')).toBe(2);
    expect(itemSize(item)).toBe(7 + 4 + 3 + 8);
  });

  it('bills writes per started KB of the larger image, doubled in transactions, and reads per 4 KB', () => {
    expect(writeUnits(100, 1024, false)).toBe(1);
    expect(writeUnits(1025, 10, false)).toBe(2);
    expect(writeUnits(0, 500, true)).toBe(2);
    expect(readUnits(4096, 'strong')).toBe(1);
    expect(readUnits(4097, 'strong')).toBe(2);
    expect(readUnits(10, 'eventual')).toBe(0.5);
    expect(readUnits(10, 'transactional')).toBe(2);
  });

  it('bills an index write when an item enters or leaves a sparse index, two when its key changes', () => {
    const table = { partitionKey: 'pk', sortKey: 'sk' };
    const index = { name: 'active', partitionKey: 'a', sortKey: 'b', projection: 'KEYS_ONLY' } as const;
    const without = { pk: { S: 'x' }, sk: { S: 'RUN' } };
    const inIndex = { pk: { S: 'x' }, sk: { S: 'RUN' }, a: { S: 'w' }, b: { S: '1' } };
    const moved = { pk: { S: 'x' }, sk: { S: 'RUN' }, a: { S: 'w' }, b: { S: '2' } };
    expect(indexWriteUnits(without, without, index, table)).toBe(0);
    expect(indexWriteUnits(without, inIndex, index, table)).toBe(1);
    expect(indexWriteUnits(inIndex, without, index, table)).toBe(1);
    expect(indexWriteUnits(inIndex, moved, index, table)).toBe(2);
  });

  it('bills no index write for a change outside a keys-only projection, one for any change under ALL', () => {
    const table = { partitionKey: 'pk', sortKey: 'sk' };
    const keysOnly = { name: 'active', partitionKey: 'a', sortKey: 'b', projection: 'KEYS_ONLY' } as const;
    const all = { ...keysOnly, projection: 'ALL' } as const;
    const before = { pk: { S: 'x' }, sk: { S: 'RUN' }, a: { S: 'w' }, b: { S: '1' }, position: { S: 'p1' } };
    const after = { ...before, position: { S: 'p2' } };
    const big = { ...before, payload: { S: 'y'.repeat(3000) } };
    expect(indexWriteUnits(before, after, keysOnly, table)).toBe(0);
    expect(indexWriteUnits(before, after, all, table)).toBe(1);
    // The entry written is what the index projects: a 3 KB item is a 1 KB keys-only entry.
    expect(indexWriteUnits(undefined, big, keysOnly, table)).toBe(1);
    expect(indexWriteUnits(undefined, big, all, table)).toBe(3);
  });
});

describe('the cost model', () => {
  it('turns counts into dollars per million runs (hand-computed example)', () => {
    const counts = emptyCounts();
    counts.snsPublish.chunks = 9;
    counts.snsEvents.chunks = 1;
    counts.sqs.pluginReport.chunks = 20;
    counts.sqs.pollReceive.chunks = 10;
    counts.dynamo.tableWriteUnits = 40;
    counts.dynamo.readUnits = 8;
    counts.lambda.stage = { invocations: 10, durationsMs: [999.2] };
    counts.logs.emfBytes = 0;

    const model = costModel(counts, 1);

    // SNS 10 × $0.50 = $5; SQS 30 × $0.40 = $12; DynamoDB 40 × $0.625 + 8 × $0.125 = $26;
    // Lambda 10 × $0.20 = $2 + 1 s × 0.5 GB × $0.0000133334 × 1e6 = $6.6667;
    // logs 10 × 600 B × $0.50 per GiB × 1e6 = $2.7940.
    const line = (prefix: string) => model.lines.find((l) => l.item.startsWith(prefix))?.usdPerMillionRuns;
    expect(line('SNS')).toBeCloseTo(5, 6);
    expect(line('DynamoDB writes')).toBeCloseTo(25, 6);
    expect(line('DynamoDB reads')).toBeCloseTo(1, 6);
    expect(line('Lambda duration')).toBeCloseTo(6.6667, 3);
    expect(model.totalUsdPerMillionRuns).toBeCloseTo(5 + 12 + 26 + 2 + 6.6667 + 2.794, 2);
    expect(gbSeconds([0.2, 1.5], 1024)).toBeCloseTo(0.003, 9);
  });

  it('counts 25 Step Functions Standard transitions for the reference workflow ($625 per million)', () => {
    expect(stepFunctionsTransitions({ activities: 3, pre: 1, parallel: 5, post: 1 }).total).toBe(25);
    const standard = comparisons(10).find((c) => c.design.startsWith('Step Functions Standard'));
    expect(standard?.usdPerMillionRuns).toBeCloseTo(625, 6);
    const express18 = comparisons(10).find((c) => c.design === 'Step Functions Express, 18 s run');
    expect(express18?.usdPerMillionRuns).toBeCloseTo(
      1 + (64 / 1024) * 18 * PRICES.sfnExpressGbSecond.usd * 1e6,
      6,
    );
  });

  it('reports nearest-rank percentiles', () => {
    const p = percentiles(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(p).toMatchObject({ samples: 100, p50: 50, p90: 90, p99: 99, max: 100 });
  });
});
