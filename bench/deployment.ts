/**
 * What the constructs deploy that the models need: the batching of each stage inbox's event source
 * and the orchestrators' tracing mode, read from the same definitions the constructs use.
 */
import { NO_BATCHING } from '../lib/activity-stage.js';
import type { ActivitySettingsConfig } from '../lib/config/workflow-config.js';
import type { TracingMode } from './all-in.js';
import type { InboxBatching } from './latency-model.js';

/**
 * The window and batch size of the inbox of `activity`/`stage` in a deployment: sequential stages
 * never batch; a parallel stage batches as its activity's `parallelBatching` says (no window by
 * default). The benchmark's reference deployment configures no window.
 */
export function stageInboxBatching(
  activity: string,
  stage: string,
  activities: Readonly<Record<string, Pick<ActivitySettingsConfig, 'parallelBatching'>>> = {},
): InboxBatching {
  const setting = stage === 'parallel' ? activities[activity]?.parallelBatching : undefined;
  if (!setting) return { windowMs: NO_BATCHING.window.toMilliseconds(), batchSize: NO_BATCHING.batchSize };
  return { windowMs: setting.windowSeconds * 1000, batchSize: setting.batchSize };
}

/**
 * The orchestrator functions' X-Ray tracing mode by default (lib/orchestrator-function.ts,
 * `tracingMode`): pass-through unless deployed with `--context tracing=active`.
 */
export function deployedTracingMode(): TracingMode {
  return 'PassThrough';
}
