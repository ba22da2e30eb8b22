/** A run of one wide parallel stage, driven by hand-made report batches (engine integration tests). */
import type { SQSEvent } from 'aws-lambda';
import type { PluginMessage } from '../../lambdas/contracts/index.js';
import { Orchestra, toRecord } from './orchestra.js';

export async function wideStage(endpoint: string, width: number, uid: string) {
  const o = await Orchestra.create({
    endpoint,
    workflows: { wide: ['fanout'] },
    plugins: [],
    separateRegistryTable: width > 500,
  });
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

export function reportBatches(dispatch: PluginMessage, batchSize: number): SQSEvent[] {
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
