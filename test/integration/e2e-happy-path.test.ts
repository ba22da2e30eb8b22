/**
 * End to end, through the local cloud and the real bundles: runs of the `order` workflow with the
 * example plugins, whose behaviour each run chooses through its metadata. The runs start together in
 * beforeAll (they are independent) and each test checks one.
 */
import { describe, expect, it } from 'vitest';
import { pluginOf, useE2eRuns } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

const RUNS: Record<string, Record<string, unknown>> = {
  happy: { giftWrap: true },
  'optional-fails': { giftWrap: false, failReview: true, failLoyalty: true },
};

const { run, stateOf } = useE2eRuns(moto, RUNS);

describe('order runs end to end on the local cloud', () => {
  it('completes the happy path with every plugin of every stage Complete', () => {
    expect(run('happy').run.state).toBe('Complete');
    const states = Object.fromEntries(
      run('happy').plugins.map((p) => [`${p.activity}/${p.stage}/${p.plugin}`, p.state]),
    );
    expect(states).toEqual({
      'intake/pre/validate-order': 'Complete',
      'intake/parallel/record-order': 'Complete',
      'fulfilment/parallel/reserve-stock': 'Complete',
      'fulfilment/parallel/charge-payment': 'Complete',
      'fulfilment/parallel/gift-wrap': 'Complete',
      'fulfilment/parallel/track-courier': 'Complete',
      'fulfilment/parallel/loyalty-points': 'Complete',
      'fulfilment/post/ship-order': 'Complete',
      'notify/parallel/request-review': 'Complete',
      'notify/post/send-confirmation': 'Complete',
    });
  });

  it('passes a result from one plugin to a later one through the status reader', () => {
    expect(pluginOf(run('happy'), 'fulfilment/post/ship-order')?.result).toEqual({
      shipped: true,
      reservation: 'res-happy',
    });
  });

  it('runs a plugin behind the queue bridge (loyalty-points: bridge, queue, consumer)', () => {
    expect(pluginOf(run('happy'), 'fulfilment/parallel/loyalty-points')?.result).toEqual({ points: 10 });
  });

  it('completes a run whose optional plugins fail, recording their errors', () => {
    expect(run('optional-fails').run.state).toBe('Complete');
    expect(stateOf('optional-fails', 'notify/parallel/request-review')).toBe('Error');
    expect(stateOf('optional-fails', 'fulfilment/parallel/loyalty-points')).toBe('Error');
    expect(pluginOf(run('optional-fails'), 'notify/parallel/request-review')?.message).toContain('HTTP 503');
  });

  it('does not dispatch or await a plugin that its filter policy excludes', () => {
    const giftWrap = pluginOf(run('optional-fails'), 'fulfilment/parallel/gift-wrap');
    expect(giftWrap?.state).toBe('Do Not Run');
    expect(giftWrap?.attempt).toBe(0);
    expect(giftWrap?.stateTimes['In Progress']).toBeUndefined();
  });
});
