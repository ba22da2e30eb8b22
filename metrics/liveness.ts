/**
 * The liveness rules, pure: when a run last made progress, whether it is inactive or stuck, which
 * data points describe a workflow, and what a stuck-run alert says. No AWS SDK here; the adapters
 * and the monitor (monitor.ts) bring the data.
 *
 * Progress of a run = the later of its run item's `updatedAt` and the `updatedAt` of the stage item
 * at its position (a stage item changes with every batch of plugin reports). In the Overseer's terms
 * a run without progress for `inactiveMinutes` is inactive and for `stuckMinutes` stuck; the two
 * counts are exclusive (a stuck run is not also counted as inactive), so active ≥ inactive + stuck.
 */
import type { LivenessThresholds } from './config.js';
import { DIMENSIONS, LIVENESS_METRIC_NAMES } from './names.js';

const MINUTE_MS = 60_000;

/** Where a run is: the stage it last started. */
export interface RunPosition {
  readonly activity: string;
  readonly stage: string;
}

/** What the liveness check reads of an active run item (a projection, never the whole item). */
export interface ActiveRun {
  readonly workflow: string;
  readonly uid: string;
  readonly createdAt?: string;
  /** The run item's `updatedAt` (ISO-8601). */
  readonly updatedAt: string;
  readonly position?: RunPosition;
  /** The progress timestamp of the last stuck alert sent for this run, if any. */
  readonly alertedProgress?: string;
}

export type Liveness = 'progressing' | 'inactive' | 'stuck';

export interface RunLiveness {
  readonly run: ActiveRun;
  /** ISO-8601 time of the run's last progress. */
  readonly progress: string;
  /** Whole minutes since then (rounded down). */
  readonly minutesWithoutProgress: number;
  readonly liveness: Liveness;
}

/** The later of two ISO timestamps (the run's own when the stage's is missing or unreadable). */
export function progressOf(runUpdatedAt: string, stageUpdatedAt: string | undefined): string {
  if (stageUpdatedAt === undefined || Number.isNaN(Date.parse(stageUpdatedAt))) return runUpdatedAt;
  return Date.parse(stageUpdatedAt) > Date.parse(runUpdatedAt) ? stageUpdatedAt : runUpdatedAt;
}

/** Classifies one run at `now` by how long it has gone without progress (thresholds inclusive). */
export function classifyRun(
  run: ActiveRun,
  stageUpdatedAt: string | undefined,
  now: Date,
  thresholds: LivenessThresholds,
): RunLiveness {
  const progress = progressOf(run.updatedAt, stageUpdatedAt);
  const idleMs = Math.max(0, now.getTime() - Date.parse(progress));
  const liveness: Liveness =
    idleMs >= thresholds.stuckMinutes * MINUTE_MS
      ? 'stuck'
      : idleMs >= thresholds.inactiveMinutes * MINUTE_MS
        ? 'inactive'
        : 'progressing';
  return { run, progress, minutesWithoutProgress: Math.floor(idleMs / MINUTE_MS), liveness };
}

/** The cut-off of the inactive threshold: runs whose run item is newer cannot be inactive. */
export function inactiveCutoff(now: Date, thresholds: LivenessThresholds): string {
  return new Date(now.getTime() - thresholds.inactiveMinutes * MINUTE_MS).toISOString();
}

/** Whether a stuck run was already alerted for this same progress timestamp (the same episode). */
export function alreadyAlerted(run: RunLiveness): boolean {
  return run.run.alertedProgress !== undefined && run.run.alertedProgress === run.progress;
}

/** The counts of one workflow at one instant. */
export interface WorkflowLiveness {
  readonly workflow: string;
  readonly active: number;
  readonly inactive: number;
  readonly stuck: number;
}

/** One `PutMetricData` datum, SDK-independent. */
export interface LivenessDatum {
  readonly metricName: string;
  readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  readonly value: number;
}

/**
 * The data points of one check: three per workflow (zeros included, so graphs never gap) with the
 * dimensions `deploymentStage` and `workflow`, plus the same three summed over all workflows with
 * `deploymentStage` only (what the stuck-run alarm watches, however many workflows there are).
 */
export function livenessDatums(
  deploymentStage: string,
  counts: readonly WorkflowLiveness[],
): LivenessDatum[] {
  const stageDimension = { name: DIMENSIONS.deploymentStage, value: deploymentStage };
  const triple = (dimensions: LivenessDatum['dimensions'], c: Omit<WorkflowLiveness, 'workflow'>) => [
    { metricName: LIVENESS_METRIC_NAMES.active, dimensions, value: c.active },
    { metricName: LIVENESS_METRIC_NAMES.inactive, dimensions, value: c.inactive },
    { metricName: LIVENESS_METRIC_NAMES.stuck, dimensions, value: c.stuck },
  ];
  const perWorkflow = counts.flatMap((c) =>
    triple([stageDimension, { name: DIMENSIONS.workflow, value: c.workflow }], c),
  );
  const total = counts.reduce(
    (sum, c) => ({
      active: sum.active + c.active,
      inactive: sum.inactive + c.inactive,
      stuck: sum.stuck + c.stuck,
    }),
    { active: 0, inactive: 0, stuck: 0 },
  );
  return [...perWorkflow, ...triple([stageDimension], total)];
}

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`chunk size must be a positive integer (got ${size})`);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** A stuck-run alert, ready to publish. */
export interface StuckRunAlert {
  readonly workflow: string;
  readonly uid: string;
  /** SNS subject: ASCII, at most 100 characters. */
  readonly subject: string;
  readonly message: string;
}

const MAX_SUBJECT_LENGTH = 100;

/** The alert for one stuck run: what, where, since when, and how to look at it. */
export function stuckRunAlert(
  run: RunLiveness,
  context: {
    readonly deploymentStage: string;
    readonly stuckMinutes: number;
    /** Where else to look (the dashboard, the saved Logs Insights query for one run). */
    readonly whereToLook?: string;
  },
): StuckRunAlert {
  const { workflow, uid, position, createdAt } = run.run;
  const minutes = run.minutesWithoutProgress;
  const where = position ? `activity "${position.activity}", stage "${position.stage}"` : 'not started yet';
  const lines = [
    `A Plugboard run has made no progress for ${minutes} minutes (stuck after ${context.stuckMinutes}).`,
    '',
    `  deployment stage: ${context.deploymentStage}`,
    `  workflow:         ${workflow}`,
    `  uid:              ${uid}`,
    `  position:         ${where}`,
    `  last progress:    ${run.progress}`,
    ...(createdAt ? [`  run started:      ${createdAt}`] : []),
    '',
    'Inspect it with the CLI:',
    `  npx plugboard --stage ${context.deploymentStage} status ${workflow} ${uid}`,
    '',
    ...(context.whereToLook ? [context.whereToLook.replaceAll('{uid}', uid), ''] : []),
    'This alert is sent once per stuck episode: it repeats only if the run makes progress and then gets stuck again.',
  ];
  return {
    workflow,
    uid,
    subject: asciiSubject(
      `Plugboard ${context.deploymentStage}: run ${workflow}/${uid} stuck for ${minutes} min`,
    ),
    message: lines.join('\n'),
  };
}

/** SNS subjects must be printable ASCII without line breaks, under 100 characters. */
function asciiSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= MAX_SUBJECT_LENGTH ? ascii : `${ascii.slice(0, MAX_SUBJECT_LENGTH - 3)}...`;
}
