import type { LifecycleEvent, StageName } from '../contracts/index.js';
import type { RunKey } from './records.js';

type EventType = LifecycleEvent['type'];

/**
 * A lifecycle event with a stable id: the same fact always gets the same `eventId`, so a consumer
 * can drop the duplicates that at-least-once delivery (and crash recovery) may produce.
 */
export function lifecycleEvent(
  type: EventType,
  run: RunKey & { readonly generation: number },
  at: string,
  detail: {
    readonly activity?: string;
    readonly stage?: StageName;
    readonly plugin?: string;
    readonly attempt?: number;
    readonly message?: string;
  } = {},
): LifecycleEvent {
  const idParts = [type, run.workflow, run.uid, `g${run.generation}`];
  if (detail.activity) idParts.push(detail.activity);
  if (detail.stage) idParts.push(detail.stage);
  if (detail.plugin) idParts.push(detail.plugin);
  if (detail.attempt !== undefined) idParts.push(`a${detail.attempt}`);
  return {
    schemaVersion: 1,
    kind: 'lifecycle',
    type,
    eventId: idParts.join(':'),
    at,
    workflow: run.workflow,
    uid: run.uid,
    generation: run.generation,
    ...(detail.activity ? { activity: detail.activity } : {}),
    ...(detail.stage ? { stage: detail.stage } : {}),
    ...(detail.plugin ? { plugin: detail.plugin } : {}),
    ...(detail.message ? { message: detail.message } : {}),
  };
}
