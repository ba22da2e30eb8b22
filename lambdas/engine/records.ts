/**
 * What the status store keeps: one record per run, per stage and per plugin execution.
 * The DynamoDB layout (keys, indexes) lives in the adapter; these are the engine's view.
 */
import {
  isFinalPluginState,
  type Metadata,
  type PluginState,
  type Registration,
  type RunState,
  STATES,
  type StageName,
  type StageState,
} from '../contracts/index.js';

/** ISO-8601 timestamps of every state a component has entered (the latest entry wins). */
export type StateTimes<S extends string> = Partial<Record<S, string>>;

export interface RunKey {
  readonly workflow: string;
  readonly uid: string;
}

export interface StageKey extends RunKey {
  readonly activity: string;
  readonly stage: StageName;
}

export interface PluginKey extends StageKey {
  readonly plugin: string;
}

export interface RunRecord extends RunKey {
  readonly state: RunState;
  /** 1 for the first run; +1 on every rerun. Commands and reports of older generations are stale. */
  readonly generation: number;
  /** The workflow's activities, frozen at start so a config change never breaks a run in flight. */
  readonly activities: readonly string[];
  readonly metadata: Metadata;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly endedAt?: string;
  readonly message?: string;
  /**
   * The activity the run is in, and the stage it entered that activity at; written once per activity
   * (not per stage). The stage the run is at now is {@link currentStageOf} its stages.
   */
  readonly position?: { readonly activity: string; readonly stage: StageName };
  /**
   * Stages of this generation an operator marked before they started ({@link stageMarkOf}): only these
   * (and every stage of a rerun) look for plugin records written before the stage itself.
   */
  readonly marked?: readonly string[];
  readonly stateTimes: StateTimes<RunState>;
}

/**
 * The stage a run is at: of the stages of its current activity in its generation, the last one
 * entered (stages of an activity are entered in order: pre, parallel, post).
 */
export function currentStageOf<S extends Pick<StageRecord, 'activity' | 'stage' | 'generation'>>(
  run: Pick<RunRecord, 'position' | 'generation'>,
  stages: readonly S[],
): S | undefined {
  const activity = run.position?.activity;
  if (activity === undefined) return undefined;
  let current: S | undefined;
  for (const stage of stages) {
    if (stage.activity !== activity || stage.generation !== run.generation) continue;
    if (!current || STAGE_ORDER[stage.stage] > STAGE_ORDER[current.stage]) current = stage;
  }
  return current;
}

const STAGE_ORDER: Readonly<Record<StageName, number>> = { pre: 0, parallel: 1, post: 2 };

/** How a run names a stage it holds a mark for (an operator's skip written before the stage). */
export function stageMarkOf(key: { readonly activity: string; readonly stage: StageName }): string {
  return `${key.activity}/${key.stage}`;
}

export interface StageRecord extends StageKey {
  readonly generation: number;
  readonly state: StageState;
  readonly mode: 'sequential' | 'parallel';
  /**
   * The stage keeps its plugins' records inside its own record (narrow stages, at most
   * {@link NARROW_STAGE_MAX} plugins; ADR 0007): one write creates the stage with its plugins, and one
   * conditional write applies a batch of reports, counts the stage down and completes it. Such a
   * stage's `countdown` and pending counts are derived from its plugins' states.
   */
  readonly holdsPlugins?: boolean;
  /** Sequential stages only: the awaited plugins in dispatch order. */
  readonly sequence?: readonly string[];
  /**
   * Narrow stages (at most {@link NARROW_STAGE_MAX} awaited plugins) count down by name instead of
   * with a transaction: each final outcome is a conditional write on its plugin, then its name joins
   * `counted` on the stage — a set, so repeating that second write after a crash counts nothing twice.
   * The pending counts below are derived from it. Wide stages keep counters updated in a transaction.
   */
  readonly countdown?: {
    readonly mandatory: readonly string[];
    readonly optional: readonly string[];
    readonly counted: readonly string[];
  };
  /** Awaited mandatory plugins that have not reached a final state. Never below zero. */
  readonly mandatoryPending: number;
  /** Awaited optional plugins that have not reached a final state. Never below zero. */
  readonly optionalPending: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly message?: string;
  /** The mandatory plugin whose failure failed the stage. */
  readonly failedPlugin?: string;
  readonly stateTimes: StateTimes<StageState>;
}

export interface PluginRecord extends PluginKey {
  readonly generation: number;
  readonly state: PluginState;
  readonly mandatory: boolean;
  readonly order: number;
  /** The current attempt (0 before the first dispatch). */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly deadlineSeconds: number;
  /** ISO time after which the current attempt is timed out. */
  readonly deadline?: string;
  readonly message?: string;
  /** The machine-readable reason of a final failure (`PluginError.code`), when the plugin gave one. */
  readonly errorCode?: string;
  readonly result?: unknown;
  /** Reports that arrived after the plugin or its stage had finished: recorded, never acted on. */
  readonly lateReports?: number;
  /** When the sweeper last sent a timeout for the current attempt (see `StatusStore.claimTimeout`). */
  readonly timeoutSentAt?: string;
  /** The record is kept inside its stage's record ({@link StageRecord.holdsPlugins}). */
  readonly inStage?: boolean;
  /** Earlier attempts of this generation that failed or timed out, oldest first (bounded by maxAttempts). */
  readonly history?: readonly AttemptRecord[];
  readonly updatedAt: string;
  readonly stateTimes: StateTimes<PluginState>;
}

/** An attempt of a plugin, as its history keeps it once the attempt is over. */
export interface AttemptRecord {
  readonly attempt: number;
  readonly outcome: PluginState;
  /** When the attempt was dispatched. */
  readonly startedAt?: string;
  /** When it failed, timed out or completed. */
  readonly endedAt: string;
  readonly message?: string;
  readonly errorCode?: string;
}

/**
 * Every attempt of a plugin, oldest first: its history, then the current attempt once it was
 * dispatched (its outcome is the plugin's state; `endedAt` only when that state is final).
 */
export function attemptsOf(plugin: PluginRecord): readonly (Omit<AttemptRecord, 'endedAt'> & {
  readonly endedAt?: string;
})[] {
  const earlier = plugin.history ?? [];
  if (plugin.attempt === 0 || earlier.some((a) => a.attempt === plugin.attempt)) return earlier;
  const startedAt = plugin.stateTimes[STATES.inProgress];
  const final = isFinalPluginState(plugin.state);
  const endedAt = final ? plugin.stateTimes[plugin.state] : undefined;
  return [
    ...earlier,
    {
      attempt: plugin.attempt,
      outcome: plugin.state,
      ...(startedAt !== undefined ? { startedAt } : {}),
      ...(endedAt !== undefined ? { endedAt } : {}),
      ...(plugin.message !== undefined ? { message: plugin.message } : {}),
      ...(plugin.errorCode !== undefined ? { errorCode: plugin.errorCode } : {}),
    },
  ];
}

/** Most plugins of a stage that holds its plugins' records (its item stays around 1 KB). */
export const NARROW_STAGE_MAX = 16;

/**
 * Pending counts of a stage that holds its plugins: every plugin that has not counted down (see
 * {@link countsDown}). A mandatory plugin that failed never counts, so its stage cannot complete.
 */
export function pendingOfPlugins(plugins: readonly Pick<PluginRecord, 'state' | 'mandatory'>[]): {
  readonly mandatoryPending: number;
  readonly optionalPending: number;
} {
  let mandatoryPending = 0;
  let optionalPending = 0;
  for (const plugin of plugins) {
    if (countsDown(plugin)) continue;
    if (plugin.mandatory) mandatoryPending += 1;
    else optionalPending += 1;
  }
  return { mandatoryPending, optionalPending };
}

/**
 * The state a stage that holds its plugins moves to after its plugins changed: `Complete` when nothing
 * is pending, `Mandatory Completed` when only optional plugins are, else the state it has. Only an
 * open stage moves; a failed, cancelled or completed one keeps its state.
 */
export function derivedStageState(
  stage: Pick<StageRecord, 'state'>,
  plugins: readonly Pick<PluginRecord, 'state' | 'mandatory'>[],
): StageState {
  if (stage.state !== 'In Progress' && stage.state !== 'Mandatory Completed') return stage.state;
  const { mandatoryPending, optionalPending } = pendingOfPlugins(plugins);
  if (mandatoryPending === 0 && optionalPending === 0) return 'Complete';
  if (mandatoryPending === 0) return 'Mandatory Completed';
  return stage.state;
}

/** Pending counts of a stage that counts down by name. */
export function pendingByName(countdown: NonNullable<StageRecord['countdown']>): {
  readonly mandatoryPending: number;
  readonly optionalPending: number;
} {
  const counted = new Set(countdown.counted);
  return {
    mandatoryPending: countdown.mandatory.filter((name) => !counted.has(name)).length,
    optionalPending: countdown.optional.filter((name) => !counted.has(name)).length,
  };
}

/**
 * Whether a plugin in this state counts its stage down: it succeeded or was skipped, or it is optional
 * and failed for good. A mandatory failure never counts: it fails the stage instead.
 */
export function countsDown(plugin: Pick<PluginRecord, 'state' | 'mandatory'>): boolean {
  if (plugin.state === 'Complete' || plugin.state === 'Do Not Run') return true;
  return !plugin.mandatory && (plugin.state === 'Error' || plugin.state === 'Timed Out');
}

/** A stage as one read: its record and, when it holds them, its plugins' records. */
export interface StageView {
  readonly stage: StageRecord;
  /** Present when the stage holds its plugins ({@link StageRecord.holdsPlugins}). */
  readonly plugins?: readonly PluginRecord[];
}

/** A run as one consistent read: the run, its stages and its plugin executions. */
export interface RunSnapshot {
  readonly run: RunRecord;
  readonly stages: readonly StageRecord[];
  readonly plugins: readonly PluginRecord[];
}

export type { Registration };
