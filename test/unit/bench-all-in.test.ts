/**
 * The all-in monthly cost: X-Ray sampling, idle long polls, custom metrics and KMS, on a
 * hand-computed example; and the EMF series the meter counts as custom metrics.
 */
import { describe, expect, it } from 'vitest';
import {
  type AllInInputs,
  allInCost,
  environments,
  SECONDS_PER_MONTH,
  sampledTraces,
} from '../../bench/all-in.js';
import { emfSeries } from '../../bench/meter.js';

const inputs: AllInInputs = {
  usdPerMillionRuns: 100,
  functions: [
    { name: 'stage', perRun: 2, meanMs: 100, readsTable: true, publishesToTopics: true, orchestrator: true },
    {
      name: 'plugin',
      perRun: 1,
      meanMs: 50,
      readsTable: true,
      publishesToTopics: false,
      orchestrator: false,
    },
  ],
  eventSources: 10,
  customMetrics: 20,
  customerManagedKeys: 1,
  encryptedTopics: 10,
};

describe('all-in monthly cost', () => {
  it('records every invocation up to 1 a second, then 5 % (per function)', () => {
    expect(SECONDS_PER_MONTH).toBe(2_628_000);
    expect(sampledTraces(1_000_000)).toBe(1_000_000);
    expect(sampledTraces(SECONDS_PER_MONTH + 1_000_000)).toBeCloseTo(SECONDS_PER_MONTH + 50_000, 6);
  });

  it('counts busy execution environments by Little’s law, at least one while invoked', () => {
    expect(environments(0, 100)).toBe(0);
    expect(environments(1000, 100)).toBe(1);
    // 100 invocations a second × 0.5 s = 50 environments.
    expect(environments(100 * SECONDS_PER_MONTH, 500)).toBe(50);
  });

  it('adds X-Ray, idle polls, metrics and KMS to the per-run lines (hand-computed at 1 M runs)', () => {
    const active = allInCost(inputs, 1e6, 'Active');
    const line = (prefix: string) => active.lines.find((l) => l.item.startsWith(prefix))?.usdPerMonth;
    // 2 M stage invocations (below the 2.628 M reservoir): recorded and retrieved once.
    expect(line('X-Ray')).toBeCloseTo((2e6 * (5 + 0.5)) / 1e6, 9);
    // 10 event sources × 5 pollers × 131,400 long polls × $0.40 per million.
    expect(line('SQS idle')).toBeCloseTo((10 * 5 * 131_400 * 0.4) / 1e6, 9);
    expect(line('CloudWatch')).toBeCloseTo(6, 9);
    expect(line('KMS customer')).toBe(1);
    // 8,760 five-minute periods × (1 stage env + 1 plugin env reading the table, 1 publishing, 10 topics).
    expect(line('KMS data-key')).toBeCloseTo((8760 * 13 * 0.03) / 10_000, 9);
    expect(active.perRunUsd).toBeCloseTo(100, 9);
    const fixed = 11 + 2.628 + 6 + 1 + (8760 * 13 * 0.03) / 10_000;
    expect(active.totalUsdPerMonth).toBeCloseTo(100 + fixed, 9);
    expect(active.allInUsdPerMillionRuns).toBeCloseTo(100 + fixed, 9);

    const passThrough = allInCost(inputs, 1e6, 'PassThrough');
    expect(passThrough.lines.find((l) => l.item.startsWith('X-Ray'))?.usdPerMonth).toBe(0);
    expect(active.totalUsdPerMonth - passThrough.totalUsdPerMonth).toBeCloseTo(11, 9);
  });

  it('spreads the fixed costs over the volume: the all-in price per million falls towards the per-run lines', () => {
    const at = (runs: number) => allInCost(inputs, runs, 'PassThrough').allInUsdPerMillionRuns;
    expect(at(1e6)).toBeGreaterThan(at(1e7));
    expect(at(1e7)).toBeGreaterThan(at(1e8));
    expect(at(1e8)).toBeGreaterThan(100);
  });

  it('rejects a volume that is not positive', () => {
    expect(() => allInCost(inputs, 0, 'Active')).toThrow(/runsPerMonth must be positive/);
  });
});

describe('EMF custom metrics', () => {
  it('counts one metric per name and dimension values', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: 1,
        CloudWatchMetrics: [
          {
            Namespace: 'Plugboard',
            Dimensions: [['service', 'workflow']],
            Metrics: [{ Name: 'RunsStarted', Unit: 'Count' }],
          },
        ],
      },
      service: 'start',
      workflow: 'order',
      RunsStarted: 1,
    });
    expect(emfSeries(line)).toEqual(['Plugboard/RunsStarted{service=start,workflow=order}']);
    expect(emfSeries('not json')).toEqual([]);
  });
});
