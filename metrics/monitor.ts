/**
 * One liveness check: count the active runs of every configured workflow, find the inactive and stuck
 * ones, put the counts as metrics and alert once per stuck run. It talks to the world only through
 * the narrow ports below; the DynamoDB, CloudWatch and SNS adapters implement them.
 */
import { STAGE_NAMES } from '../plugin-kit/src/contracts/states.js';
import type { LivenessThresholds } from './config.js';
import { AlertDeliveryError, type UndeliveredAlert, type UnreadableRunError } from './errors.js';
import {
  type ActiveRun,
  alreadyAlerted,
  classifyRun,
  inactiveCutoff,
  type LivenessDatum,
  livenessDatums,
  type RunLiveness,
  type StuckRunAlert,
  stuckRunAlert,
  type WorkflowLiveness,
} from './liveness.js';

/** The stage item a run's progress is read from. */
export interface StageRef {
  readonly workflow: string;
  readonly uid: string;
  readonly activity: string;
  readonly stage: string;
}

export const stageRefKey = (ref: StageRef): string =>
  JSON.stringify([ref.workflow, ref.uid, ref.activity, ref.stage]);

/** Reads active runs without scanning: the sparse `active` index and single stage items. */
export interface ActiveRunReader {
  /**
   * How many runs of `workflow` are active, and how many of them may be stale: at least every active
   * run whose run item was not updated after `staleAtOrBefore` (only those can be inactive). When it is
   * 0, nothing more is read.
   */
  countActive(
    workflow: string,
    staleAtOrBefore: string,
  ): Promise<{ readonly total: number; readonly stale: number }>;
  /** The active runs of `workflow` whose run item was not updated after `staleAtOrBefore`. */
  listStale(
    workflow: string,
    staleAtOrBefore: string,
  ): Promise<{ readonly runs: readonly ActiveRun[]; readonly unreadable: readonly UnreadableRunError[] }>;
  /** `updatedAt` of each stage item that exists, keyed by {@link stageRefKey}. */
  stageUpdatedAt(refs: readonly StageRef[]): Promise<ReadonlyMap<string, string>>;
}

/** Remembers sent alerts on the run item, so the same stuck episode never alerts twice. */
export interface AlertLedger {
  /**
   * Records that `run` is being alerted for `progress`. False when that is already recorded, or the
   * run has moved on or finished since it was read: then no alert is sent.
   */
  claim(run: ActiveRun, progress: string, at: Date): Promise<boolean>;
  /** Undoes a claim whose alert could not be published, so the next check sends it again. */
  release(run: ActiveRun, progress: string, at: Date): Promise<void>;
}

export interface AlertSender {
  send(alert: StuckRunAlert): Promise<void>;
}

export interface MetricSink {
  /** Puts the datums with timestamp `at`; returns how many API requests that took. */
  put(datums: readonly LivenessDatum[], at: Date): Promise<number>;
}

export interface Clock {
  now(): Date;
}

export interface MonitorLog {
  info(message: string, detail: Record<string, unknown>): void;
  warn(message: string, detail: Record<string, unknown>): void;
}

export interface MonitorDeps {
  readonly reader: ActiveRunReader;
  readonly ledger: AlertLedger;
  readonly alerts: AlertSender;
  readonly metrics: MetricSink;
  readonly clock: Clock;
  readonly log: MonitorLog;
}

export interface MonitorSettings extends LivenessThresholds {
  readonly deploymentStage: string;
  readonly workflows: readonly string[];
  /** Where a stuck-run alert says to look, besides the CLI (dashboard and Logs Insights links). */
  readonly whereToLook?: string;
}

export interface LivenessReport {
  /** The instant the check ran (the metrics' timestamp). */
  readonly at: string;
  readonly workflows: readonly WorkflowLiveness[];
  /** How many `PutMetricData` requests carried the datums. */
  readonly metricRequests: number;
  readonly datums: number;
  /** Stuck runs alerted by this check. */
  readonly alerted: readonly { readonly workflow: string; readonly uid: string }[];
  /** Stuck runs not alerted again (same episode already alerted, or changed since they were read). */
  readonly alreadyAlerted: number;
}

/**
 * Runs one check. Metrics are put even when alerts fail; undelivered alerts are released and reported
 * at the end with {@link AlertDeliveryError}, so the next check retries them.
 */
export async function checkLiveness(deps: MonitorDeps, settings: MonitorSettings): Promise<LivenessReport> {
  const now = deps.clock.now();
  const perWorkflow = await mapLimited(settings.workflows, WORKFLOW_CONCURRENCY, (workflow) =>
    inspectWorkflow(deps, settings, workflow, now),
  );
  const counts = perWorkflow.map((w) => w.counts);
  const datums = livenessDatums(settings.deploymentStage, counts);
  const metricRequests = await deps.metrics.put(datums, now);

  const stuck = perWorkflow.flatMap((w) => w.stuck);
  const outcomes = await mapLimited(stuck, ALERT_CONCURRENCY, (run) => alertOnce(deps, settings, run, now));
  const alerted: { workflow: string; uid: string }[] = [];
  const undelivered: UndeliveredAlert[] = [];
  let skipped = 0;
  outcomes.forEach((outcome, i) => {
    const run = stuck[i];
    if (run === undefined) return;
    if (outcome === 'sent') alerted.push({ workflow: run.run.workflow, uid: run.run.uid });
    else if (outcome === 'skipped') skipped += 1;
    else undelivered.push({ workflow: run.run.workflow, uid: run.run.uid, cause: outcome.error });
  });

  const report: LivenessReport = {
    at: now.toISOString(),
    workflows: counts,
    metricRequests,
    datums: datums.length,
    alerted,
    alreadyAlerted: skipped,
  };
  deps.log.info('liveness checked', { ...report, undelivered: undelivered.length });
  if (undelivered.length > 0) throw new AlertDeliveryError(undelivered);
  return report;
}

/** Workflows inspected at once (each is a few sequential queries). */
const WORKFLOW_CONCURRENCY = 4;
/** Stuck runs alerted at once (each is one conditional write and one publish). */
const ALERT_CONCURRENCY = 8;

async function inspectWorkflow(
  deps: MonitorDeps,
  settings: MonitorSettings,
  workflow: string,
  now: Date,
): Promise<{ counts: WorkflowLiveness; stuck: RunLiveness[] }> {
  const cutoff = inactiveCutoff(now, settings);
  const { total, stale } = await deps.reader.countActive(workflow, cutoff);
  if (stale === 0) return { counts: { workflow, active: total, inactive: 0, stuck: 0 }, stuck: [] };

  const { runs, unreadable } = await deps.reader.listStale(workflow, cutoff);
  for (const problem of unreadable)
    deps.log.warn('run item skipped', { workflow, pk: problem.pk, error: problem.message });
  // A run names the activity it is in; its progress is the newest change of that activity's stages.
  const refs = runs.flatMap((run): StageRef[] => activityStageRefs(run));
  const stageTimes = refs.length > 0 ? await deps.reader.stageUpdatedAt(refs) : new Map<string, string>();
  const classified = runs.map((run) => {
    let latest: { stage: string; at: string } | undefined;
    for (const ref of activityStageRefs(run)) {
      const at = stageTimes.get(stageRefKey(ref));
      if (at !== undefined && (latest === undefined || at > latest.at)) latest = { stage: ref.stage, at };
    }
    const here =
      run.position && latest
        ? { ...run, position: { activity: run.position.activity, stage: latest.stage } }
        : run;
    return classifyRun(here, latest?.at, now, settings);
  });
  const stuck = classified.filter((r) => r.liveness === 'stuck');
  const inactive = classified.filter((r) => r.liveness === 'inactive').length;
  // The count and the listing are two reads: a run may finish in between. Never report more
  // inactive or stuck runs than active ones.
  const active = Math.max(total, inactive + stuck.length);
  return { counts: { workflow, active, inactive, stuck: stuck.length }, stuck };
}

/** The stage items of the activity a run is in (none before it entered one). */
function activityStageRefs(run: ActiveRun): StageRef[] {
  const position = run.position;
  if (!position) return [];
  return STAGE_NAMES.map((stage) => ({
    workflow: run.workflow,
    uid: run.uid,
    activity: position.activity,
    stage,
  }));
}

async function alertOnce(
  deps: MonitorDeps,
  settings: MonitorSettings,
  run: RunLiveness,
  now: Date,
): Promise<'sent' | 'skipped' | { readonly error: unknown }> {
  if (alreadyAlerted(run)) return 'skipped';
  if (!(await deps.ledger.claim(run.run, run.progress, now))) return 'skipped';
  const alert = stuckRunAlert(run, settings);
  try {
    await deps.alerts.send(alert);
  } catch (error) {
    try {
      await deps.ledger.release(run.run, run.progress, now);
      deps.log.warn('stuck-run alert not delivered; released for the next check', {
        workflow: alert.workflow,
        uid: alert.uid,
        error: describe(error),
      });
    } catch (releaseError) {
      deps.log.warn(
        'stuck-run alert not delivered and its claim not released: this episode will not alert again',
        {
          workflow: alert.workflow,
          uid: alert.uid,
          error: describe(error),
          releaseError: describe(releaseError),
        },
      );
    }
    return { error };
  }
  deps.log.info('stuck run alerted', {
    workflow: alert.workflow,
    uid: alert.uid,
    position: run.run.position,
    lastProgress: run.progress,
    minutesWithoutProgress: run.minutesWithoutProgress,
  });
  return 'sent';
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Maps with at most `limit` calls in flight; results keep the input order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  // One iterator shared by the workers: each takes the next item synchronously, so none is taken twice.
  const queue = items.entries();
  const worker = async (): Promise<void> => {
    for (const [index, item] of queue) results[index] = await fn(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
