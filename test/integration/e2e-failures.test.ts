/**
 * End to end, through the local cloud and the real bundles: runs of the `order` workflow whose
 * plugins fail, retry or hang (the example plugins do what each run's metadata asks). The runs start
 * together in beforeAll and each test checks one.
 */
import { describe, expect, it } from 'vitest';
import { pluginOf, useE2eRuns } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

const RUNS: Record<string, Record<string, unknown>> = {
  'payment-once': { failPayment: 'once' },
  'payment-always': { failPayment: 'always' },
  'courier-hangs': { hangCourier: true },
};

const { run, stateOf } = useE2eRuns(moto, RUNS);

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
