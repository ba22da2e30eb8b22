/**
 * What the constructs deploy that the models need: the batching of each stage inbox's event source
 * and the orchestrators' tracing mode. One function each, so that a per-activity window or a new
 * tracing default (issue 12) is a one-line change here: the models take them as inputs.
 */
import { STAGE_BATCHING_WINDOW } from '../lib/activity-stage.js';
import type { TracingMode } from './all-in.js';
import type { InboxBatching } from './latency-model.js';

/** `batchSize` of every SQS event source (lib/orchestrator-function.ts, `consume`). */
export const STAGE_BATCH_SIZE = 10;

/** The window and batch size of the inbox of `activity`/`stage` in a deployment. */
export function stageInboxBatching(_activity: string, _stage: string): InboxBatching {
  return { windowMs: STAGE_BATCHING_WINDOW.toMilliseconds(), batchSize: STAGE_BATCH_SIZE };
}

/** The orchestrator functions' X-Ray tracing mode (lib/orchestrator-function.ts, `tracingConfig`). */
export function deployedTracingMode(): TracingMode {
  return 'Active';
}
