/**
 * Wide parallel stages on moto: concurrent report batches count down exactly, and a 1,000-plugin
 * stage completes.
 */
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { PluginMessage } from '../../lambdas/contracts/index.js';
import { useMoto } from '../support/moto.js';
import { Orchestra, toRecord } from '../support/orchestra.js';

const moto = useMoto();

async function wideStage(width: number, uid: string) {
  const o = await Orchestra.create({ endpoint: moto.endpoint, workflows: { wide: ['fanout'] }, plugins: [] });
  for (let i = 0; i < width; i += 1) {
    await o.register('fanout', 'parallel', {
      name: `p${String(i).padStart(4, '0')}`,
      default: { mandatory: true },
    });
  }
  await o.start({ workflow: 'wide', uid });
  // pre (no plugins: completes at once) → parallel dispatch
  for (let round = 0; round < 4 && !o.published.some((m) => m.stage === 'parallel'); round += 1)
    await o.pump();
  const dispatch = o.published.find((m) => m.stage === 'parallel');
  if (!dispatch) throw new Error('the parallel stage was not dispatched');
  return { o, dispatch };
}

function reportBatches(dispatch: PluginMessage, batchSize: number): SQSEvent[] {
  const events: SQSEvent[] = [];
  for (let i = 0; i < dispatch.plugins.length; i += batchSize) {
    const names = dispatch.plugins.slice(i, i + batchSize);
    events.push({
      Records: names.map((plugin) =>
        toRecord(
          {
            MessageId: `${plugin}-${Math.random().toString(36).slice(2)}`,
            ReceiptHandle: 'unused',
            Body: JSON.stringify({
              kind: 'report',
              workflow: dispatch.workflow,
              uid: dispatch.uid,
              generation: dispatch.generation,
              activity: dispatch.activity,
              stage: dispatch.stage,
              plugin,
              attempt: dispatch.attempt,
              reportedAt: new Date().toISOString(),
              status: 'Complete',
            }),
          },
          dispatch.replyTo.queueUrl,
        ),
      ),
    });
  }
  return events;
}

describe('wide parallel stages', () => {
  it('counts 20 concurrent report batches (each delivered twice) of a 200-plugin stage exactly, and advances once', async () => {
    const { o, dispatch } = await wideStage(200, 'wide-200');
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
    expect(await o.inboxDepth('fanout', 'post')).toBe(1);
    const snapshot = await o.runUntilSettled({ workflow: 'wide', uid: 'wide-200' });
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins.filter((p) => p.state === 'Complete')).toHaveLength(200);
  });

  it('completes a 1,000-plugin parallel stage dispatched in one publish', async () => {
    const { o, dispatch } = await wideStage(1000, 'wide-1000');
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
  }, 300_000);
});
