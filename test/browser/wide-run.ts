/**
 * A finished run of the `order` workflow whose fulfilment parallel stage has `width` plugins, written
 * into the local cloud's status table through the StatusStore port (the same records the engine
 * writes for a wide stage, without waiting for 1,000 plugins to answer: the engine's own 1,000-wide
 * run is test/integration/engine-width-1000.test.ts). The console reads it through the real API.
 * Most plugins completed, some failed and some timed out, each with its attempts and messages.
 */
import type { StatusStore } from '../../lambdas/engine/ports.js';
import type { PluginRecord } from '../../lambdas/engine/records.js';

export interface WideRunCounts {
  readonly complete: number;
  readonly error: number;
  readonly timedOut: number;
}

export async function seedWideRun(store: StatusStore, uid: string, width: number): Promise<WideRunCounts> {
  const t0 = Date.parse('2026-12-04T10:00:00.000Z');
  const at = (ms: number) => new Date(t0 + ms).toISOString();
  const run = { workflow: 'order', uid };
  const ended = at(60_000);
  await store.createRunIfAbsent({
    ...run,
    state: 'Error',
    generation: 1,
    activities: ['intake', 'fulfilment', 'notify'],
    metadata: { customer: 'wide-1', note: `${width} plugins in fulfilment/parallel` },
    createdAt: at(0),
    updatedAt: ended,
    endedAt: ended,
    message: 'fulfilment parallel: mandatory plugin p0007 failed: simulated failure 7',
    position: { activity: 'fulfilment', stage: 'pre' },
    stateTimes: { 'In Progress': at(0), Error: ended },
  });
  const counts = { complete: 0, error: 0, timedOut: 0 };
  const plugins: PluginRecord[] = [];
  for (let i = 0; i < width; i += 1) {
    const name = `p${String(i).padStart(4, '0')}`;
    const start = at(1000 + (i % 50) * 40);
    const end = at(3000 + (i % 97) * 300);
    const state = i % 25 === 7 ? 'Error' : i % 50 === 13 ? 'Timed Out' : 'Complete';
    if (state === 'Error') counts.error += 1;
    else if (state === 'Timed Out') counts.timedOut += 1;
    else counts.complete += 1;
    plugins.push({
      ...run,
      activity: 'fulfilment',
      stage: 'parallel',
      plugin: name,
      generation: 1,
      state,
      mandatory: true,
      order: 0,
      attempt: state === 'Complete' ? 1 : 2,
      maxAttempts: 2,
      deadlineSeconds: 10,
      ...(state === 'Error' ? { message: `simulated failure ${i}`, errorCode: 'SIMULATED' } : {}),
      ...(state === 'Timed Out' ? { message: 'no report before the deadline' } : {}),
      ...(state === 'Complete' ? { result: { n: i } } : {}),
      history:
        state === 'Complete'
          ? []
          : [
              {
                attempt: 1,
                outcome: state,
                startedAt: at(900),
                endedAt: at(1000 + (i % 50) * 40 - 20),
                message: 'first attempt',
              },
            ],
      updatedAt: end,
      stateTimes: { 'Not Started': at(500), 'In Progress': start, [state]: end },
    });
  }
  await store.createStageIfAbsent({
    ...run,
    activity: 'fulfilment',
    stage: 'parallel',
    generation: 1,
    state: 'Error',
    mode: 'parallel',
    mandatoryPending: 0,
    optionalPending: 0,
    createdAt: at(500),
    updatedAt: ended,
    message: 'mandatory plugin p0007 failed: simulated failure 7',
    failedPlugin: 'p0007',
    stateTimes: { 'In Progress': at(500), Error: ended },
  });
  await store.putPluginsIfAbsent(plugins);
  return counts;
}
