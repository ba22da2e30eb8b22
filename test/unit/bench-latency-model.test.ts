/**
 * The latency model's arithmetic: inbox batching, the log-normal fit, hand-computed paths with fixed
 * latencies, and the Step Functions Standard shape. Pure: nothing here times anything.
 */
import { describe, expect, it } from 'vitest';
import type { CriticalPath } from '../../bench/critical-path.js';
import {
  batchedStart,
  draw,
  LATENCIES,
  type Latencies,
  type Latency,
  plugboardSegments,
  random,
  simulate,
  stepFunctionsPathTransitions,
  stepFunctionsSegments,
} from '../../bench/latency-model.js';

/** Every latency fixed at its p50 (p99 = p50), so the model is a plain sum. */
function fixed(): Latencies {
  const out: Record<string, Latency> = {};
  for (const [k, v] of Object.entries(LATENCIES)) out[k] = { ...v, p99: v.p50 };
  return out as unknown as Latencies;
}

const L = LATENCIES;

/** Today's shape for one stage of one plugin: start → command → dispatch → plugin → report → end. */
const oneStage: CriticalPath = {
  steps: [
    {
      type: 'invocation',
      kind: 'start',
      waves: [['dynamodb'], ['sqsSend']],
      emits: 'command',
      callsAfter: 1,
    },
    { type: 'sqs-hop', activity: 'a', stage: 'pre', command: 'start-stage' },
    {
      type: 'invocation',
      kind: 'stage',
      activity: 'a',
      stage: 'pre',
      waves: [['dynamodb'], ['dynamodb', 'snsPublish']],
      emits: 'dispatch',
      callsAfter: 1,
    },
    { type: 'fan-out', activity: 'a', stage: 'pre', plugins: 1 },
    {
      type: 'invocation',
      kind: 'stage',
      activity: 'a',
      stage: 'pre',
      waves: [['dynamodb'], ['snsPublish']],
      emits: 'end',
      callsAfter: 0,
    },
  ],
  stages: [],
};

describe('inbox batching', () => {
  it('invokes at the last arrival without a window', () => {
    expect(batchedStart([30, 10, 20], { windowMs: 0, batchSize: 10 })).toBe(30);
    expect(batchedStart([30, 10, 20], undefined)).toBe(30);
  });

  it('waits the window from the first arrival of each batch, and closes a full batch at once', () => {
    // Batch 1 opens at 0 and takes 100; 2,000 opens batch 2, which closes at 3,000.
    expect(batchedStart([0, 100, 2000], { windowMs: 1000, batchSize: 10 })).toBe(3000);
    // One lone message waits the whole window.
    expect(batchedStart([50], { windowMs: 1000, batchSize: 10 })).toBe(1050);
    // Batch size 2: the batch [0, 10] closes when full (10); 20 opens the next, closing at 1,020.
    expect(batchedStart([0, 10, 20], { windowMs: 1000, batchSize: 2 })).toBe(1020);
  });
});

describe('the log-normal hop', () => {
  it('puts half the draws under p50 and 99 % under p99', () => {
    const rng = random(7);
    const latency = { p50: 73, p99: 225, basis: 'test' };
    const draws = Array.from({ length: 40_000 }, () => draw(latency, 'random', rng)).sort((a, b) => a - b);
    expect(draws[20_000]).toBeGreaterThan(73 * 0.97);
    expect(draws[20_000]).toBeLessThan(73 * 1.03);
    expect(draws[39_600]).toBeGreaterThan(225 * 0.93);
    expect(draws[39_600]).toBeLessThan(225 * 1.07);
  });

  it('returns the fixed quantile in the p50 and p99 modes', () => {
    const rng = random(1);
    expect(draw({ p50: 5, p99: 15, basis: '' }, 'p50', rng)).toBe(5);
    expect(draw({ p50: 5, p99: 15, basis: '' }, 'p99', rng)).toBe(15);
  });
});

describe('the Plugboard path model', () => {
  const batching = () => ({ windowMs: 1000, batchSize: 10 });

  it('sums hops, call waves (slowest call of a wave) and windows along a measured path', () => {
    const latencies = fixed();
    const model = simulate(plugboardSegments(oneStage, batching, latencies), {
      latencies,
      coldStartShare: 0,
      samples: 200,
    });
    const start = L.invoke.p50 + L.dynamodb.p50 + L.sqsSend.p50;
    const hop = L.sqsToLambda.p50 + 1000;
    const dispatch = L.invoke.p50 + L.dynamodb.p50 + Math.max(L.dynamodb.p50, L.snsPublish.p50);
    const fanOut =
      L.snsToLambda.p50 + L.invoke.p50 + L.dynamodb.p50 + L.sqsSend.p50 + L.sqsToLambda.p50 + 1000;
    const report = L.invoke.p50 + L.dynamodb.p50 + L.snsPublish.p50;
    const total = start + hop + dispatch + fanOut + report;
    expect(model.allAtP50Ms).toBeCloseTo(total, 9);
    expect(model.p50Ms).toBeCloseTo(total, 9);
    expect(model.p99Ms).toBeCloseTo(total, 9);
    expect(model.windowedHops).toBe(2);
    expect(model.breakdownAtP50Ms.window).toBeCloseTo(2000, 9);
    expect(model.quietWorstCaseMs).toBeCloseTo(total - 2000 + 40_000, 9);
    expect(model.stages.map((s) => [s.stage, s.windowMs])).toEqual([
      ['start', 0],
      ['a/pre', 2000],
    ]);
  });

  it('adds a cold start to every Lambda invocation when the share is 1', () => {
    const latencies = fixed();
    const segments = plugboardSegments(oneStage, batching, latencies);
    const warm = simulate(segments, { latencies, coldStartShare: 0, samples: 50 });
    const cold = simulate(segments, { latencies, coldStartShare: 1, samples: 50 });
    // Three orchestrator invocations and one plugin invocation.
    expect(cold.p50Ms - warm.p50Ms).toBeCloseTo(4 * L.coldStart.p50, 9);
    expect(warm.lambdaInvocationsOnPath).toBe(4);
  });

  it('waits for the slowest of parallel plugins without a window, and gives p99 ≥ p50 reproducibly', () => {
    const wide: CriticalPath = {
      ...oneStage,
      steps: oneStage.steps.map((s) => (s.type === 'fan-out' ? { ...s, plugins: 5 } : s)),
    };
    const none = () => ({ windowMs: 0, batchSize: 10 });
    const one = simulate(plugboardSegments(oneStage, none), { samples: 5000, seed: 3 });
    const five = simulate(plugboardSegments(wide, none), { samples: 5000, seed: 3 });
    expect(five.p50Ms).toBeGreaterThan(one.p50Ms);
    expect(five.p99Ms).toBeGreaterThanOrEqual(five.p50Ms);
    expect(simulate(plugboardSegments(wide, none), { samples: 5000, seed: 3 })).toEqual(five);
  });

  it('starts a window at the first report: parallel reports share one wait', () => {
    const wide: CriticalPath = {
      ...oneStage,
      steps: oneStage.steps.map((s) => (s.type === 'fan-out' ? { ...s, plugins: 5 } : s)),
    };
    const windowed = simulate(plugboardSegments(wide, batching), { samples: 5000, seed: 3 });
    const none = simulate(
      plugboardSegments(wide, () => ({ windowMs: 0, batchSize: 10 })),
      {
        samples: 5000,
        seed: 3,
      },
    );
    // Two windowed hops of 1 s; the reports' window opens at the first of five, so the stage pays
    // less than 2 s more than without windows, and more than the command hop's full second.
    expect(windowed.p50Ms - none.p50Ms).toBeGreaterThan(1000);
    expect(windowed.p50Ms - none.p50Ms).toBeLessThan(2000);
    expect(windowed.windowedHops).toBe(2);
  });

  it('rejects a nonsensical sample count or cold-start share', () => {
    const segments = plugboardSegments(oneStage, batching);
    expect(() => simulate(segments, { samples: 0 })).toThrow(/samples must be a positive integer/);
    expect(() => simulate(segments, { coldStartShare: 2 })).toThrow(/coldStartShare must be between 0 and 1/);
  });
});

describe('the Step Functions Standard model', () => {
  const shape = { activities: 3, pre: 1, parallel: 5, post: 1 };

  it('puts 13 transitions on the path of the reference shape', () => {
    expect(stepFunctionsPathTransitions(shape)).toBe(13);
  });

  it('sums transitions and callback round trips (hand-computed at p50)', () => {
    const latencies = fixed();
    const model = simulate(stepFunctionsSegments(shape, latencies), {
      latencies,
      coldStartShare: 0,
      samples: 10,
    });
    const task =
      L.sfnTransition.p50 +
      L.snsPublish.p50 +
      L.snsToLambda.p50 +
      L.invoke.p50 +
      L.dynamodb.p50 +
      L.sfnCallback.p50;
    // Per activity: pre, Map, one iteration (parallel), post; then Succeed.
    const expected = 3 * (task + L.sfnTransition.p50 + task + task) + L.sfnTransition.p50;
    expect(model.allAtP50Ms).toBeCloseTo(expected, 9);
    expect(model.breakdownAtP50Ms.transition).toBeCloseTo(13 * L.sfnTransition.p50, 9);
  });
});
