/**
 * End to end, through the local cloud and the real bundles: runs of the `order` workflow whose
 * plugins fail, retry or hang (the example plugins do what each run's metadata asks). The runs start
 * together in beforeAll and each test checks one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSnapshot } from '../../lambdas/engine/records.js';
import type { DemoEnvironment } from '../../local/demo/environment.js';
import { pluginOf, startE2eEnvironment } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
let env: DemoEnvironment;
const runs = new Map<string, RunSnapshot>();

const RUNS: Record<string, Record<string, unknown>> = {
  'payment-once': { failPayment: 'once' },
  'payment-always': { failPayment: 'always' },
  'courier-hangs': { hangCourier: true },
};

beforeAll(async () => {
  env = await startE2eEnvironment(moto.endpoint);
  await Promise.all(Object.entries(RUNS).map(([uid, metadata]) => env.startRun({ uid, metadata })));
  await Promise.all(
    Object.keys(RUNS).map(async (uid) => runs.set(uid, await env.waitForRun(uid, { timeoutMs: 240_000 }))),
  );
  // Synthesis with esbuild (no cache on a fresh machine), deploying both apps and the runs: minutes
  // on a loaded machine.
}, 600_000);

afterAll(async () => {
  await env?.stop();
});

const run = (uid: string): RunSnapshot => {
  const snapshot = runs.get(uid);
  if (snapshot === undefined) throw new Error(`run ${uid} was not read`);
  return snapshot;
};
const stateOf = (uid: string, path: string) => pluginOf(run(uid), path)?.state;

describe('failing and hanging plugins end to end on the local cloud', () => {
  it('retries a mandatory plugin that fails once, and the run completes', () => {
    expect(run('payment-once').run.state).toBe('Complete');
    const payment = pluginOf(run('payment-once'), 'fulfilment/parallel/charge-payment');
    expect(payment?.state).toBe('Complete');
    expect(payment?.attempt).toBe(2);
    expect(payment?.result).toEqual({ charged: true, attempt: 2 });
  });

  it('fails the run with the message of a mandatory plugin that always fails', () => {
    const snapshot = run('payment-always');
    expect(snapshot.run.state).toBe('Error');
    expect(snapshot.run.message).toContain('payment gateway timed out (attempt 2)');
    expect(pluginOf(snapshot, 'fulfilment/parallel/charge-payment')?.state).toBe('Error');
    expect(pluginOf(snapshot, 'notify/post/send-confirmation')).toBeUndefined();
  });

  it('times out a hanging optional plugin and completes the run', () => {
    expect(run('courier-hangs').run.state).toBe('Complete');
    expect(stateOf('courier-hangs', 'fulfilment/parallel/track-courier')).toBe('Timed Out');
    expect(stateOf('courier-hangs', 'notify/post/send-confirmation')).toBe('Complete');
  });
});
