/**
 * A 1,000-plugin parallel stage on moto. Slow on moto (it copies the table for every transaction
 * item), so it has a file of its own and runs beside the others.
 */
import { describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import { reportBatches, wideStage } from '../support/wide-stage.js';

const moto = useMoto();

describe('the widest stage', () => {
  it('completes a 1,000-plugin parallel stage dispatched in one publish', async () => {
    const { o, dispatch } = await wideStage(moto.endpoint, 1000, 'wide-1000');
    expect(dispatch.plugins).toHaveLength(1000);
    expect(o.published.filter((m) => m.stage === 'parallel')).toHaveLength(1);
    const handler = o.stageHandler('fanout', 'parallel');

    const batches = reportBatches(dispatch, 10);
    for (let i = 0; i < batches.length; i += 5) {
      const results = await Promise.all(batches.slice(i, i + 5).map((event) => handler(event)));
      expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    }

    const snapshot = await o.runUntilSettled({ workflow: 'wide', uid: 'wide-1000' });
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins).toHaveLength(1000);
    expect(snapshot.plugins.every((p) => p.state === 'Complete')).toBe(true);
  }, 1_200_000);
});
