/**
 * The narrow ports the engine talks through. Adapters in `lambdas/adapters/` implement them with the
 * AWS SDK v3; tests implement them in memory. The engine never imports the SDK.
 */
import type {
  Command,
  LifecycleEvent,
  PluginMessage,
  PluginState,
  Registration,
  RunState,
  StageName,
  StageState,
} from '../contracts/index.js';
import type {
  AttemptRecord,
  PluginKey,
  PluginRecord,
  RunKey,
  RunRecord,
  RunSnapshot,
  StageKey,
  StageRecord,
  StageView,
} from './records.js';

/** The outcome of a conditional write. `applied: false` means the condition did not hold. */
export type Transition<R> =
  | { readonly applied: true; readonly record: R }
  | { readonly applied: false; readonly current: R | undefined };

export interface PluginPatch {
  readonly state?: PluginState;
  readonly attempt?: number;
  readonly deadline?: string | null;
  readonly message?: string | null;
  readonly result?: unknown;
  readonly mandatory?: boolean;
  /** A final failure's `PluginError.code`. */
  readonly errorCode?: string | null;
  /** The attempt that just ended, appended to the plugin's history (a retry is next). */
  readonly archive?: AttemptRecord;
}

export interface StagePatch {
  readonly state?: StageState;
  readonly message?: string | null;
  readonly failedPlugin?: string | null;
}

export interface RunPatch {
  readonly state?: RunState;
  readonly message?: string | null;
  readonly position?: { readonly activity: string; readonly stage: StageName } | null;
  readonly generation?: number;
  readonly metadata?: Record<string, unknown>;
  readonly endedAt?: string | null;
  /**
   * Adds a stage to the run's marks ({@link RunRecord.marked}). A patch with a new `generation`
   * clears the marks of the previous one.
   */
  readonly mark?: string;
}

/** A plugin reaching a final state, counted down on its stage in the same atomic write. */
export interface FinalOutcome {
  readonly key: PluginKey;
  readonly generation: number;
  /** The plugin must be in one of these states... */
  readonly from: readonly PluginState[];
  /** ...with exactly this attempt (omit to accept any attempt). */
  readonly attempt?: number;
  readonly patch: PluginPatch & { readonly state: PluginState };
  /** Which stage counter this outcome counts down (none for plugins that were never awaited). */
  readonly countDown: 'mandatory' | 'optional' | 'none';
}

export interface ActiveRunPage {
  readonly runs: readonly RunRecord[];
  readonly nextToken?: string;
}

export interface StatusStore {
  /** Creates the run if no run exists for (workflow, uid). Otherwise returns the existing one. */
  createRunIfAbsent(run: RunRecord): Promise<{ readonly created: boolean; readonly run: RunRecord }>;
  getRun(key: RunKey): Promise<RunRecord | undefined>;
  /** Moves the run if it is in one of `from` (and in `generation`, when given). */
  transitionRun(
    key: RunKey,
    from: readonly RunState[],
    patch: RunPatch,
    options?: { readonly generation?: number },
  ): Promise<Transition<RunRecord>>;

  /**
   * Creates the stage record unless one exists for this generation or a newer one (an older
   * generation's record is replaced). Returns the record now stored.
   */
  createStageIfAbsent(
    stage: StageRecord,
    /** The stage's plugin records, stored with it in the same write when it holds them. */
    plugins?: readonly PluginRecord[],
  ): Promise<{ readonly created: boolean; readonly stage: StageRecord }>;
  /**
   * Writes each plugin record unless one exists for its generation or a newer one. Safe to repeat:
   * a record that a report has already moved is never overwritten.
   */
  putPluginsIfAbsent(plugins: readonly PluginRecord[]): Promise<void>;
  getStage(key: StageKey): Promise<StageRecord | undefined>;
  /** The stage and, when it holds them, its plugins' records, in one consistent read. */
  readStage(key: StageKey): Promise<StageView | undefined>;
  transitionStage(
    key: StageKey,
    from: readonly StageState[],
    patch: StagePatch,
    options: { readonly generation: number; readonly requireNothingPending?: boolean },
  ): Promise<Transition<StageRecord>>;

  /**
   * One plugin record. `inStage` (as a record carries it) says where it is kept: `false` reads only
   * its own item; otherwise its stage is read too, and the newer generation wins.
   */
  getPlugin(key: PluginKey & { readonly inStage?: boolean }): Promise<PluginRecord | undefined>;
  /** Moves a plugin that is in one of `from` (and at `attempt`, when given). */
  transitionPlugin(
    key: PluginKey,
    from: readonly PluginState[],
    patch: PluginPatch,
    options: { readonly generation: number; readonly attempt?: number },
  ): Promise<Transition<PluginRecord>>;
  /**
   * Applies final outcomes of plugins of one stage with their count-down. Each outcome is applied at
   * most once: an outcome whose condition fails is reported as not applied. A wide stage counts down
   * atomically with the outcomes (a transaction; a counter never goes below zero); a narrow one
   * (`countdown` set) by name after them, idempotently — an outcome found already final is counted
   * again, which changes nothing if it was. Returns the outcomes applied and refused.
   */
  recordFinalOutcomes(
    stage: StageKey & { readonly generation: number; readonly countdown?: StageRecord['countdown'] },
    outcomes: readonly FinalOutcome[],
    options?: {
      /**
       * Plugins already final whose count-down a crash may have lost (a redelivered duplicate): a
       * stage that counts down by name counts them again, which changes nothing if it was done.
       */
      readonly recount?: readonly PluginKey[];
    },
  ): Promise<{
    readonly applied: readonly PluginKey[];
    readonly refused: readonly PluginKey[];
    /** The stage right after its count-down by name (its write returns it); absent otherwise. */
    readonly stage?: StageRecord;
    /** A stage that holds its plugins: its plugins' records right after the write. */
    readonly plugins?: readonly PluginRecord[];
    /**
     * This write completed the stage (a stage that holds its plugins completes in the write that
     * counts its last plugin down): the caller, and only it, moves the run on.
     */
    readonly completed?: boolean;
  }>;
  /** Counts a report that changed nothing because it came too late. */
  recordLateReport(key: PluginKey & { readonly inStage?: boolean }): Promise<void>;
  /**
   * The sweeper's claim to send one timeout for this attempt: true (and `timeoutSentAt = now` is
   * stored) when the plugin is still `In Progress` at this generation and attempt and no timeout was
   * sent for it since `resendAfter`. Keeps a backlogged inbox from collecting one timeout per tick.
   */
  claimTimeout(
    key: PluginKey,
    expected: { readonly generation: number; readonly attempt: number },
    now: string,
    resendAfter: string,
  ): Promise<boolean>;

  /** The whole run in one (paginated) query. */
  readRun(key: RunKey): Promise<RunSnapshot | undefined>;
  /** Plugins of a run still `In Progress` whose deadline is before `now` (for the sweeper). */
  listOverduePlugins(key: RunKey, now: string): Promise<readonly PluginRecord[]>;
  /**
   * Plugin records of one stage (the newest generation of each), in storage order. `withHeld: false`
   * skips looking inside the stage record (a first generation's stage that does not exist yet).
   */
  listStagePlugins(
    key: StageKey,
    options?: { readonly withHeld?: boolean },
  ): Promise<readonly PluginRecord[]>;
  /** Runs not yet finished, through the sparse active-runs index (no scans), newest first. */
  listActiveRuns(
    workflow: string,
    options?: { readonly limit?: number; readonly nextToken?: string },
  ): Promise<ActiveRunPage>;
  /** Every run of a workflow, newest first (for the CLI's list). */
  listRuns(
    workflow: string,
    options?: { readonly limit?: number; readonly nextToken?: string },
  ): Promise<ActiveRunPage>;
}

export interface Registry {
  put(registration: Registration): Promise<void>;
  remove(activity: string, stage: StageName, plugin: string): Promise<void>;
  list(activity: string, stage: StageName): Promise<readonly Registration[]>;
}

/** Publishes a plugin message to a stage's topic with the targeting attributes. */
export interface Dispatcher {
  publish(message: PluginMessage): Promise<void>;
}

/** Sends engine commands to stage inboxes, optionally delayed (≤ 900 s). */
export interface CommandBus {
  send(command: Command, options?: { readonly delaySeconds?: number }): Promise<void>;
}

export interface EventPublisher {
  publish(event: LifecycleEvent): Promise<void>;
}

export interface Clock {
  now(): Date;
}
