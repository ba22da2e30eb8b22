/**
 * Wide parallel stages on moto: concurrent report batches count down exactly, and a 1,000-plugin
 * stage completes.
 */
import { describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import { reportBatches, wideStage } from '../support/wide-stage.js';

const moto = useMoto();

describe('wide parallel stages', () => {
  it('counts 20 concurrent report batches (each delivered twice) of a 200-plugin stage exactly, and advances once', async () => {
    const { o, dispatch } = await wideStage(moto.endpoint, 200, 'wide-200');
    expect(dispatch.plugins).toHaveLength(200);
    const handler = o.stageHandler('fanout', 'parallel');
    const batches = reportBatches(dispatch, 10);
    expect(batches).toHaveLength(20);

    const results = await Promise.all([...batches, ...batches].map((event) => handler(event)));

    expect(results.flatMap((r) => r.batchItemFailures)).toEqual([]);
    const stage = await o.store.getStage({
      workflow: 'wide',
      uid: 'wide-200',
      activity: 'fanout',
      stage: 'parallel',
    });
    expect(stage).toMatchObject({ state: 'Complete', mandatoryPending: 0, optionalPending: 0 });
    // The winner of the completion entered the next stage inline, once (it has no plugins: it is
    // complete at once, and so is the run); nothing went through an inbox.
    expect(await o.inboxDepth('fanout', 'post')).toBe(0);
    const snapshot = await o.runUntilSettled({ workflow: 'wide', uid: 'wide-200' });
    expect(snapshot.stages.filter((s) => s.stage === 'post')).toEqual([
      expect.objectContaining({ state: 'Complete', message: 'no plugin to wait for' }),
    ]);
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins.filter((p) => p.state === 'Complete')).toHaveLength(200);
  }, 300_000); // hundreds of transactions on moto: tens of seconds on a loaded machine
});
