/**
 * End to end, through the local cloud and the real bundles: starting a run twice with the same uid,
 * and re-running a failed run (only the failed plugins run again).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoEnvironment } from '../../local/demo/environment.js';
import { pluginOf, startE2eEnvironment } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
let env: DemoEnvironment;

beforeAll(async () => {
  env = await startE2eEnvironment(moto.endpoint);
  // Synthesis with esbuild (no cache on a fresh machine) and deploying both apps: minutes on a loaded
  // machine.
}, 300_000);

afterAll(async () => {
  await env?.stop();
});

describe('starting and re-running runs end to end', () => {
  it('starts one run for two start requests with the same uid', async () => {
    const [first, second] = await Promise.all([
      env.startRun({ uid: 'twice', metadata: { giftWrap: true } }),
      env.startRun({ uid: 'twice', metadata: { giftWrap: true } }),
    ]);

    expect([first.outcome, second.outcome].sort()).toEqual(['existing', 'started']);
    const snapshot = await env.waitForRun('twice', { timeoutMs: 240_000 });
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.run.generation).toBe(1);
    expect(pluginOf(snapshot, 'intake/pre/validate-order')?.attempt).toBe(1);
  }, 300_000);

  it('re-runs only the failed plugins of a failed run', async () => {
    await env.startRun({ uid: 'rerun', metadata: { failPayment: 'first-run' } });
    const failed = await env.waitForRun('rerun', { timeoutMs: 240_000 });
    expect(failed.run.state).toBe('Error');
    const stockDoneAt = pluginOf(failed, 'fulfilment/parallel/reserve-stock')?.stateTimes.Complete;
    const validatedAt = pluginOf(failed, 'intake/pre/validate-order')?.stateTimes.Complete;
    expect(stockDoneAt).toBeDefined();

    const answer = await env.startRun({ uid: 'rerun', metadata: { failPayment: 'first-run' }, rerun: true });
    expect(answer.outcome).toBe('rerun');
    const rerun = await env.waitForRun('rerun', { timeoutMs: 240_000, generation: 2 });

    expect(rerun.run.state).toBe('Complete');
    expect(rerun.run.generation).toBe(2);
    const payment = pluginOf(rerun, 'fulfilment/parallel/charge-payment');
    expect(payment?.state).toBe('Complete');
    expect(payment?.result).toMatchObject({ charged: true });
    // Completed plugins were carried over, not run again: their completion times did not move.
    expect(pluginOf(rerun, 'fulfilment/parallel/reserve-stock')?.stateTimes.Complete).toBe(stockDoneAt);
    expect(pluginOf(rerun, 'intake/pre/validate-order')?.stateTimes.Complete).toBe(validatedAt);
  }, 600_000);
});
