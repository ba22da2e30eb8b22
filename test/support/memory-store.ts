/**
 * In-memory implementations of the engine's storage ports, for fast engine tests.
 *
 * `MemoryStatusStore` follows the documented semantics of `StatusStore` (lambdas/engine/ports.ts) and
 * mirrors the DynamoDB adapter where the port leaves room: every conditional write checks its
 * from-states, generation and attempt; `null` patch fields remove the attribute; `updatedAt` is set
 * on every applied transition and `stateTimes[state]` whenever a patch names a state; a count-down
 * whose stage is missing, of another generation or would go below zero is refused with
 * `CountDownRefusedError` and writes nothing. Records are deep-copied on the way in and out.
 *
 * Every call goes through a `CallJournal`, shared with the harness's fake dispatcher, command bus and
 * event publisher: it numbers the calls, keeps their arguments and results, and injects faults.
 */
import { CountDownRefusedError, InvalidStoreRequestError } from '../../lambdas/adapters/errors.js';
import {
  describeIssues,
  isFinalRunState,
  type PluginState,
  type Registration,
  type RunState,
  registrationSchema,
  type StageName,
  type StageState,
} from '../../lambdas/contracts/index.js';
import type {
  ActiveRunPage,
  Clock,
  FinalOutcome,
  PluginPatch,
  Registry,
  RunPatch,
  StagePatch,
  StatusStore,
  Transition,
} from '../../lambdas/engine/ports.js';
import {
  countsDown,
  derivedStageState,
  type PluginKey,
  type PluginRecord,
  pendingByName,
  pendingOfPlugins,
  type RunKey,
  type RunRecord,
  type RunSnapshot,
  type StageKey,
  type StageRecord,
  type StageView,
} from '../../lambdas/engine/records.js';

// ---------------------------------------------------------------------------------------------------
// The call journal: a numbered log of every port call, with fault injection
// ---------------------------------------------------------------------------------------------------

/** `read` calls change nothing; `write` calls change the store; `effect` calls publish or send. */
export type CallKind = 'read' | 'write' | 'effect';
/** `before`: the call throws and does nothing. `after`: the call takes effect, then throws. */
export type FaultTiming = 'before' | 'after';

export interface CallEntry {
  /** 1-based position among all calls of the journal. */
  readonly seq: number;
  readonly port: string;
  readonly method: string;
  readonly kind: CallKind;
  readonly args: readonly unknown[];
  /** What the call returned (a copy), also when a fault was thrown after it took effect. */
  result?: unknown;
  /** The fault thrown by this call, if any. */
  fault?: FaultTiming;
}

/** The error a fault injection throws: it stands for a crash of the Lambda (or a lost response). */
export class InjectedFault extends Error {
  constructor(
    readonly port: string,
    readonly method: string,
    readonly timing: FaultTiming,
  ) {
    super(`injected fault ${timing} ${port}.${method}`);
    this.name = 'InjectedFault';
  }
}

interface FaultRule {
  readonly port: string;
  readonly method: string;
  readonly timing: FaultTiming;
  readonly error: Error | undefined;
}

interface HookRule {
  readonly port: string;
  readonly method: string;
  readonly hook: () => void | Promise<void>;
}

export class CallJournal {
  readonly entries: CallEntry[] = [];
  private readonly faults: FaultRule[] = [];
  private readonly hooks: HookRule[] = [];
  private stepsSinceArmed = 0;
  private crashAtStep: number | undefined;

  /** Makes the next call of `port.method` throw (`before` it acts, by default, or `after`). */
  failNext(port: string, method: string, options: { error?: Error; timing?: FaultTiming } = {}): void {
    this.faults.push({ port, method, timing: options.timing ?? 'before', error: options.error });
  }

  /** Runs `hook` just before the next call of `port.method` (to interleave another handler there). */
  beforeNext(port: string, method: string, hook: () => void | Promise<void>): void {
    this.hooks.push({ port, method, hook });
  }

  /**
   * Counting from now, the `step`-th write or effect call takes effect and then throws an
   * `InjectedFault`: a crash between that step and whatever the caller would have done next.
   */
  crashAfterStep(step: number): void {
    this.stepsSinceArmed = 0;
    this.crashAtStep = step;
  }

  /** Write and effect calls made since the journal was created. */
  get steps(): number {
    return this.entries.filter((e) => e.kind !== 'read').length;
  }

  async call<T>(
    port: string,
    method: string,
    kind: CallKind,
    args: readonly unknown[],
    work: () => T | Promise<T>,
  ): Promise<T> {
    // Arguments and results are kept as they are (not copied): the engine treats them as read-only.
    const entry: CallEntry = { seq: this.entries.length + 1, port, method, kind, args };
    this.entries.push(entry);
    const hook = take(this.hooks, port, method);
    if (hook) await hook.hook();
    const fault = take(this.faults, port, method);
    if (fault?.timing === 'before') {
      entry.fault = 'before';
      throw fault.error ?? new InjectedFault(port, method, 'before');
    }
    const result = await work();
    entry.result = result;
    if (kind !== 'read' && this.crashAtStep !== undefined) {
      this.stepsSinceArmed += 1;
      if (this.stepsSinceArmed === this.crashAtStep) {
        this.crashAtStep = undefined;
        entry.fault = 'after';
        throw new InjectedFault(port, method, 'after');
      }
    }
    if (fault?.timing === 'after') {
      entry.fault = 'after';
      throw fault.error ?? new InjectedFault(port, method, 'after');
    }
    return result;
  }

  /** Entries of one port (and method), in call order. */
  of(port: string, method?: string): CallEntry[] {
    return this.entries.filter((e) => e.port === port && (method === undefined || e.method === method));
  }
}

function take<R extends { readonly port: string; readonly method: string }>(
  rules: R[],
  port: string,
  method: string,
): R | undefined {
  const index = rules.findIndex((r) => r.port === port && r.method === method);
  if (index < 0) return undefined;
  const [rule] = rules.splice(index, 1);
  return rule;
}

/**
 * A deep copy, so neither side of a port can alias the other's objects. Records are plain JSON data
 * by contract (the DynamoDB adapter stores nothing else), so a plain recursive copy is enough (and
 * several times faster than structuredClone or a JSON round trip, which matters for the crash sweeps).
 */
export function copy<T>(value: T): T {
  return clonePlain(value) as T;
}

function clonePlain(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(clonePlain);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner !== undefined) out[key] = clonePlain(inner);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Keys and patches
// ---------------------------------------------------------------------------------------------------

const runId = (k: RunKey): string => `${k.workflow}#${k.uid}`;
const stageId = (k: StageKey): string => `${runId(k)}#${k.activity}#${k.stage}`;
const pluginId = (k: PluginKey): string => `${stageId(k)}#${k.plugin}`;

/** `undefined` leaves a field alone, `null` removes it, anything else sets it (copied). */
function patched<R extends object>(record: R, patch: object, now: string): R {
  const next: Record<string, unknown> = { ...record, updatedAt: now };
  const { archive, ...fields } = patch as { archive?: unknown };
  if (archive !== undefined) {
    // A plugin's ended attempt goes to its history (the DynamoDB adapter's list_append).
    next.history = [...(((record as { history?: unknown[] }).history ?? []) as unknown[]), copy(archive)];
  }
  for (const [field, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = copy(value);
  }
  const state = (patch as { state?: unknown }).state;
  if (typeof state === 'string') {
    next.stateTimes = { ...(next.stateTimes as Record<string, string>), [state]: now };
  }
  return next as R;
}

const runKeyOf = (k: RunKey): RunKey => ({ workflow: k.workflow, uid: k.uid });
const stageKeyOf = (k: StageKey): StageKey => ({ ...runKeyOf(k), activity: k.activity, stage: k.stage });
const pluginKeyOf = (k: PluginKey): PluginKey => ({ ...stageKeyOf(k), plugin: k.plugin });

const systemClock: Clock = { now: () => new Date() };

// ---------------------------------------------------------------------------------------------------
// The status store
// ---------------------------------------------------------------------------------------------------

export interface MemoryStoreOptions {
  /** Source of `updatedAt` and `stateTimes`. @default - the system clock */
  readonly clock?: Clock;
  /** @default - a journal of its own */
  readonly journal?: CallJournal;
}

/** Port methods, and the second write of a count-down by name (a crash can fall before it). */
type StoreMethod = keyof StatusStore | 'countDownByName';

export class MemoryStatusStore implements StatusStore {
  readonly journal: CallJournal;
  private readonly clock: Clock;
  private readonly runs = new Map<string, RunRecord>();
  private readonly stages = new Map<string, StageRecord>();
  private readonly plugins = new Map<string, PluginRecord>();

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.journal = options.journal ?? new CallJournal();
  }

  // ---- test controls (not part of the port, not journaled) -----------------------------------

  /** Makes the next call of `method` throw: `before` it acts (default) or `after` it took effect. */
  failNext(method: StoreMethod, options: { error?: Error; timing?: FaultTiming } = {}): void {
    this.journal.failNext('store', method, options);
  }

  /** Runs `hook` right before the next call of `method`. */
  beforeNext(method: StoreMethod, hook: () => void | Promise<void>): void {
    this.journal.beforeNext('store', method, hook);
  }

  /** The store's calls, in order. */
  get calls(): CallEntry[] {
    return this.journal.of('store');
  }

  peekRun(key: RunKey): RunRecord | undefined {
    return copy(this.runs.get(runId(key)));
  }

  peekStage(key: StageKey): StageRecord | undefined {
    return copy(this.derived(this.stages.get(stageId(key))));
  }

  peekPlugin(key: PluginKey): PluginRecord | undefined {
    return copy(this.plugins.get(pluginId(key)));
  }

  allRuns(): RunRecord[] {
    return copy([...this.runs.values()]);
  }

  allStages(): StageRecord[] {
    return copy([...this.stages.values()].map((stage) => this.derived(stage) as StageRecord));
  }

  allPlugins(): PluginRecord[] {
    return copy([...this.plugins.values()]);
  }

  /** Copies of the plugin records that satisfy `predicate` (which sees the stored records). */
  findPlugins(predicate: (plugin: Readonly<PluginRecord>) => boolean): PluginRecord[] {
    return copy([...this.plugins.values()].filter(predicate));
  }

  /** Copies of the run records that satisfy `predicate` (which sees the stored records). */
  findRuns(predicate: (run: Readonly<RunRecord>) => boolean): RunRecord[] {
    return copy([...this.runs.values()].filter(predicate));
  }

  /** Puts records as they are (to arrange a state directly). */
  seed(records: {
    readonly runs?: readonly RunRecord[];
    readonly stages?: readonly StageRecord[];
    readonly plugins?: readonly PluginRecord[];
  }): void {
    for (const run of records.runs ?? []) this.runs.set(runId(run), copy(run));
    for (const stage of records.stages ?? []) this.stages.set(stageId(stage), copy(stage));
    for (const plugin of records.plugins ?? []) this.plugins.set(pluginId(plugin), copy(plugin));
  }

  // ---- runs ----------------------------------------------------------------------------------

  createRunIfAbsent(run: RunRecord): Promise<{ readonly created: boolean; readonly run: RunRecord }> {
    return this.write('createRunIfAbsent', [run], () => {
      const existing = this.runs.get(runId(run));
      if (existing) return { created: false, run: copy(existing) };
      this.runs.set(runId(run), copy(run));
      return { created: true, run: copy(run) };
    });
  }

  getRun(key: RunKey): Promise<RunRecord | undefined> {
    return this.read('getRun', [runKeyOf(key)], () => copy(this.runs.get(runId(key))));
  }

  transitionRun(
    key: RunKey,
    from: readonly RunState[],
    patch: RunPatch,
    options: { readonly generation?: number } = {},
  ): Promise<Transition<RunRecord>> {
    return this.write('transitionRun', [runKeyOf(key), from, patch, options], () => {
      requireStates('transitionRun', from);
      const current = this.runs.get(runId(key));
      const holds =
        current !== undefined &&
        from.includes(current.state) &&
        (options.generation === undefined || current.generation === options.generation);
      if (!current || !holds) return { applied: false, current: copy(current) };
      const { mark, ...rest } = patch;
      let next: RunRecord = patched(current, rest, this.now());
      if (patch.generation !== undefined && mark === undefined) {
        const { marked: _cleared, ...unmarked } = next;
        next = unmarked;
      }
      if (mark !== undefined) next = { ...next, marked: [...new Set([...(next.marked ?? []), mark])].sort() };
      this.runs.set(runId(key), next);
      return { applied: true, record: copy(next) };
    });
  }

  // ---- stages --------------------------------------------------------------------------------

  createStageIfAbsent(
    stage: StageRecord,
    plugins: readonly PluginRecord[] = [],
  ): Promise<{ readonly created: boolean; readonly stage: StageRecord }> {
    return this.write('createStageIfAbsent', [stage, plugins], () => {
      const existing = this.stages.get(stageId(stage));
      if (existing && existing.generation >= stage.generation)
        return { created: false, stage: copy(this.derived(existing) as StageRecord) };
      if (stage.holdsPlugins) {
        // As the DynamoDB adapter: the stage and its plugins are one item, written at once. The
        // stage's records replace any of this generation (an operator's mark, which the plan merged).
        for (const plugin of plugins) {
          if (stageId(plugin) !== stageId(stage)) {
            throw new InvalidStoreRequestError(
              `createStageIfAbsent: plugin "${plugin.plugin}" belongs to ${plugin.activity}/${plugin.stage}, not ${stage.activity}/${stage.stage}.`,
            );
          }
          this.plugins.set(pluginId(plugin), { ...copy(plugin), inStage: true });
        }
      }
      this.stages.set(stageId(stage), copy(stage));
      return { created: true, stage: copy(this.derived(stage) as StageRecord) };
    });
  }

  putPluginsIfAbsent(plugins: readonly PluginRecord[]): Promise<void> {
    return this.write('putPluginsIfAbsent', [plugins], () => {
      for (const plugin of plugins) {
        const existing = this.plugins.get(pluginId(plugin));
        if (existing && existing.generation >= plugin.generation) continue;
        this.plugins.set(pluginId(plugin), copy(plugin));
      }
    });
  }

  getStage(key: StageKey): Promise<StageRecord | undefined> {
    return this.read('getStage', [stageKeyOf(key)], () => copy(this.derived(this.stages.get(stageId(key)))));
  }

  readStage(key: StageKey): Promise<StageView | undefined> {
    return this.read('readStage', [stageKeyOf(key)], () => copy(this.view(key)));
  }

  transitionStage(
    key: StageKey,
    from: readonly StageState[],
    patch: StagePatch,
    options: { readonly generation: number; readonly requireNothingPending?: boolean },
  ): Promise<Transition<StageRecord>> {
    return this.write('transitionStage', [stageKeyOf(key), from, patch, options], () => {
      requireStates('transitionStage', from);
      const current = this.derived(this.stages.get(stageId(key)));
      const holds =
        current !== undefined &&
        from.includes(current.state) &&
        current.generation === options.generation &&
        (!options.requireNothingPending || (current.mandatoryPending === 0 && current.optionalPending === 0));
      if (!current || !holds) return { applied: false, current: copy(current) };
      const next = patched(current, patch, this.now());
      this.stages.set(stageId(key), next);
      return { applied: true, record: copy(this.derived(next) as StageRecord) };
    });
  }

  // ---- plugins -------------------------------------------------------------------------------

  getPlugin(key: PluginKey): Promise<PluginRecord | undefined> {
    return this.read('getPlugin', [pluginKeyOf(key)], () => copy(this.plugins.get(pluginId(key))));
  }

  transitionPlugin(
    key: PluginKey,
    from: readonly PluginState[],
    patch: PluginPatch,
    options: { readonly generation: number; readonly attempt?: number },
  ): Promise<Transition<PluginRecord>> {
    return this.write('transitionPlugin', [pluginKeyOf(key), from, patch, options], () => {
      requireStates('transitionPlugin', from);
      const current = this.plugins.get(pluginId(key));
      if (!current || !pluginHolds(current, from, options.generation, options.attempt)) {
        return { applied: false, current: copy(current) };
      }
      const next = patched(current, patch, this.now());
      this.plugins.set(pluginId(key), next);
      return { applied: true, record: copy(next) };
    });
  }

  async recordFinalOutcomes(
    stage: StageKey & { readonly generation: number; readonly countdown?: StageRecord['countdown'] },
    outcomes: readonly FinalOutcome[],
    options: { readonly recount?: readonly PluginKey[] } = {},
  ): Promise<{ readonly applied: readonly PluginKey[]; readonly refused: readonly PluginKey[] }> {
    const stored = this.stages.get(stageId(stage));
    // As the DynamoDB adapter: a stage that holds its plugins takes one write for all of it.
    if (stored?.holdsPlugins) return this.recordHeld(stage, outcomes);
    // A stage of ADR 0005's layout counts down by name in two writes, the outcomes and then the
    // count-down, so a crash can fall between them (the journal makes each a step).
    if (stored?.countdown) {
      return this.recordByName(stage, outcomes, options.recount ?? []);
    }
    return this.write('recordFinalOutcomes', [stage, outcomes], () => {
      for (const outcome of outcomes) {
        if (stageId(outcome.key) !== stageId(stage)) {
          throw new InvalidStoreRequestError(
            `recordFinalOutcomes: plugin "${outcome.key.plugin}" belongs to ${outcome.key.activity}/${outcome.key.stage}, not ${stage.activity}/${stage.stage}.`,
          );
        }
        requireStates('recordFinalOutcomes', outcome.from);
      }
      // Decide everything first, write nothing until the stage's count-down is known to hold.
      const seen = new Set<string>();
      const accepted: FinalOutcome[] = [];
      const refused: PluginKey[] = [];
      for (const outcome of outcomes) {
        const { holds } = this.firstHolding(outcome, seen);
        if (holds) accepted.push(outcome);
        else refused.push(pluginKeyOf(outcome.key));
      }
      if (accepted.length === 0) return { applied: [], refused };
      const mandatoryDown = accepted.filter((o) => o.countDown === 'mandatory').length;
      const optionalDown = accepted.filter((o) => o.countDown === 'optional').length;
      const current = this.stages.get(stageId(stage));
      const reason = !current
        ? 'missing'
        : current.generation !== stage.generation
          ? 'generation'
          : current.mandatoryPending < mandatoryDown || current.optionalPending < optionalDown
            ? 'underflow'
            : undefined;
      if (!current || reason) {
        throw new CountDownRefusedError(stageKeyOf(stage), reason ?? 'missing', {
          expectedGeneration: stage.generation,
          mandatoryDown,
          optionalDown,
          ...(current
            ? {
                current: {
                  generation: current.generation,
                  mandatoryPending: current.mandatoryPending,
                  optionalPending: current.optionalPending,
                },
              }
            : {}),
          appliedBefore: [],
        });
      }
      const now = this.now();
      for (const outcome of accepted) {
        const id = pluginId(outcome.key);
        const plugin = this.plugins.get(id);
        if (plugin) this.plugins.set(id, patched(plugin, outcome.patch, now));
      }
      this.stages.set(stageId(stage), {
        ...current,
        mandatoryPending: current.mandatoryPending - mandatoryDown,
        optionalPending: current.optionalPending - optionalDown,
        updatedAt: now,
      });
      return { applied: accepted.map((o) => pluginKeyOf(o.key)), refused };
    });
  }

  /** Whether an outcome's condition holds on its plugin; the same plugin again in one call never does. */
  private firstHolding(
    outcome: FinalOutcome,
    seen: Set<string>,
  ): { id: string; current: PluginRecord | undefined; holds: boolean } {
    const id = pluginId(outcome.key);
    const current = this.plugins.get(id);
    const holds =
      !seen.has(id) &&
      current !== undefined &&
      pluginHolds(current, outcome.from, outcome.generation, outcome.attempt);
    seen.add(id);
    return { id, current, holds };
  }

  /**
   * A stage that holds its plugins: the outcomes, the count-down and the stage's own move (to
   * `Mandatory Completed` or `Complete`) in one atomic write.
   */
  private recordHeld(
    stage: StageKey & { readonly generation: number },
    outcomes: readonly FinalOutcome[],
  ): Promise<{
    readonly applied: readonly PluginKey[];
    readonly refused: readonly PluginKey[];
    readonly stage?: StageRecord;
    readonly plugins?: readonly PluginRecord[];
    readonly completed?: boolean;
  }> {
    return this.write('recordFinalOutcomes', [stage, outcomes], () => {
      const applied: PluginKey[] = [];
      const refused: PluginKey[] = [];
      const current = this.stages.get(stageId(stage));
      if (!current || current.generation !== stage.generation) {
        return { applied, refused: outcomes.map((o) => pluginKeyOf(o.key)) };
      }
      const seen = new Set<string>();
      const now = this.now();
      for (const outcome of outcomes) {
        if (stageId(outcome.key) !== stageId(stage)) {
          throw new InvalidStoreRequestError(
            `recordFinalOutcomes: plugin "${outcome.key.plugin}" belongs to ${outcome.key.activity}/${outcome.key.stage}, not ${stage.activity}/${stage.stage}.`,
          );
        }
        requireStates('recordFinalOutcomes', outcome.from);
        const { id, current: plugin, holds } = this.firstHolding(outcome, seen);
        if (holds && plugin) {
          this.plugins.set(id, patched(plugin, outcome.patch, now));
          applied.push(pluginKeyOf(outcome.key));
        } else {
          refused.push(pluginKeyOf(outcome.key));
        }
      }
      let completed = false;
      if (applied.length > 0) {
        const plugins = sortedById(this.plugins, `${stageId(stage)}#`);
        const state = derivedStageState(current, plugins);
        const next =
          state === current.state ? { ...current, updatedAt: now } : patched(current, { state }, now);
        completed = state === 'Complete' && current.state !== 'Complete';
        this.stages.set(stageId(stage), next);
      }
      const view = this.view(stage);
      return {
        applied,
        refused,
        ...(view ? { stage: view.stage, plugins: view.plugins ?? [] } : {}),
        completed,
      };
    });
  }

  private async recordByName(
    stage: StageKey & { readonly generation: number },
    outcomes: readonly FinalOutcome[],
    recount: readonly PluginKey[],
  ): Promise<{
    readonly applied: readonly PluginKey[];
    readonly refused: readonly PluginKey[];
    readonly stage?: StageRecord;
  }> {
    const decided = await this.write('recordFinalOutcomes', [stage, outcomes, recount], () => {
      const applied: PluginKey[] = [];
      const refused: PluginKey[] = [];
      const count: string[] = recount.map((k) => k.plugin);
      const seen = new Set<string>();
      const now = this.now();
      for (const outcome of outcomes) {
        if (stageId(outcome.key) !== stageId(stage)) {
          throw new InvalidStoreRequestError(
            `recordFinalOutcomes: plugin "${outcome.key.plugin}" belongs to ${outcome.key.activity}/${outcome.key.stage}, not ${stage.activity}/${stage.stage}.`,
          );
        }
        requireStates('recordFinalOutcomes', outcome.from);
        const { id, current, holds } = this.firstHolding(outcome, seen);
        if (holds && current) {
          const next = patched(current, outcome.patch, now);
          this.plugins.set(id, next);
          applied.push(pluginKeyOf(outcome.key));
          if (outcome.countDown !== 'none') count.push(outcome.key.plugin);
        } else {
          refused.push(pluginKeyOf(outcome.key));
          // Concluded by another delivery that may have crashed before counting it: count it again.
          if (current && current.generation === stage.generation && countsDown(current)) {
            count.push(current.plugin);
          }
        }
      }
      return { applied, refused, count };
    });
    if (decided.count.length > 0) {
      const after = await this.write('countDownByName', [stage, decided.count], () => {
        const current = this.stages.get(stageId(stage));
        if (!current?.countdown || current.generation !== stage.generation) return undefined;
        const counted = [...new Set([...current.countdown.counted, ...decided.count])];
        const countdown = { ...current.countdown, counted };
        const next = { ...current, countdown, ...pendingByName(countdown), updatedAt: this.now() };
        this.stages.set(stageId(stage), next);
        return copy(next);
      });
      if (after) return { applied: decided.applied, refused: decided.refused, stage: after };
    }
    return { applied: decided.applied, refused: decided.refused };
  }

  recordLateReport(key: PluginKey): Promise<void> {
    return this.write('recordLateReport', [pluginKeyOf(key)], () => {
      const current = this.plugins.get(pluginId(key));
      if (!current) return;
      this.plugins.set(pluginId(key), { ...current, lateReports: (current.lateReports ?? 0) + 1 });
    });
  }

  claimTimeout(
    key: PluginKey,
    expected: { readonly generation: number; readonly attempt: number },
    now: string,
    resendAfter: string,
  ): Promise<boolean> {
    return this.write('claimTimeout', [pluginKeyOf(key), expected, now, resendAfter], () => {
      const current = this.plugins.get(pluginId(key));
      if (
        current?.state !== 'In Progress' ||
        current.generation !== expected.generation ||
        current.attempt !== expected.attempt ||
        (current.timeoutSentAt !== undefined && current.timeoutSentAt >= resendAfter)
      ) {
        return false;
      }
      this.plugins.set(pluginId(key), { ...current, timeoutSentAt: now });
      return true;
    });
  }

  // ---- reads ---------------------------------------------------------------------------------

  readRun(key: RunKey): Promise<RunSnapshot | undefined> {
    return this.read('readRun', [runKeyOf(key)], () => {
      const run = this.runs.get(runId(key));
      if (!run) return undefined;
      const prefix = `${runId(key)}#`;
      return copy({
        run,
        stages: sortedById(this.stages, prefix).map((stage) => this.derived(stage) as StageRecord),
        plugins: sortedById(this.plugins, prefix),
      });
    });
  }

  listOverduePlugins(key: RunKey, now: string): Promise<readonly PluginRecord[]> {
    return this.read('listOverduePlugins', [runKeyOf(key), now], () =>
      copy(
        sortedById(this.plugins, `${runId(key)}#`).filter(
          (p) => p.state === 'In Progress' && p.deadline !== undefined && p.deadline < now,
        ),
      ),
    );
  }

  /** A stage with its derived count-down when it holds its plugins (as the adapter reads it). */
  private derived(stage: StageRecord | undefined): StageRecord | undefined {
    if (!stage?.holdsPlugins) return stage;
    const plugins = sortedById(this.plugins, `${stageId(stage)}#`).filter(
      (p) => p.generation === stage.generation,
    );
    return {
      ...stage,
      countdown: {
        mandatory: plugins.filter((p) => p.mandatory).map((p) => p.plugin),
        optional: plugins.filter((p) => !p.mandatory).map((p) => p.plugin),
        counted: plugins.filter(countsDown).map((p) => p.plugin),
      },
      ...pendingOfPlugins(plugins),
    };
  }

  private view(key: StageKey): StageView | undefined {
    const stage = this.derived(this.stages.get(stageId(key)));
    if (!stage) return undefined;
    if (!stage.holdsPlugins) return { stage };
    return {
      stage,
      plugins: sortedById(this.plugins, `${stageId(key)}#`).filter((p) => p.generation === stage.generation),
    };
  }

  listStagePlugins(key: StageKey): Promise<readonly PluginRecord[]> {
    return this.read('listStagePlugins', [stageKeyOf(key)], () =>
      copy(sortedById(this.plugins, `${stageId(key)}#`)),
    );
  }

  listActiveRuns(
    workflow: string,
    options: { readonly limit?: number; readonly nextToken?: string } = {},
  ): Promise<ActiveRunPage> {
    return this.read('listActiveRuns', [workflow, options], () =>
      this.page(workflow, options, (run) => !isFinalRunState(run.state)),
    );
  }

  listRuns(
    workflow: string,
    options: { readonly limit?: number; readonly nextToken?: string } = {},
  ): Promise<ActiveRunPage> {
    return this.read('listRuns', [workflow, options], () => this.page(workflow, options, () => true));
  }

  // ---- internals -----------------------------------------------------------------------------

  private now(): string {
    return this.clock.now().toISOString();
  }

  /** Newest first by `<createdAt>#<uid>`, like the DynamoDB indexes; the token is an offset. */
  private page(
    workflow: string,
    options: { readonly limit?: number; readonly nextToken?: string },
    include: (run: RunRecord) => boolean,
  ): ActiveRunPage {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidStoreRequestError(`limit must be a positive integer (got ${limit})`);
    }
    const offset = options.nextToken === undefined ? 0 : Number(options.nextToken);
    if (!Number.isInteger(offset) || offset < 0) {
      throw new InvalidStoreRequestError(`not a page token of this store: "${options.nextToken}"`);
    }
    const sortKey = (run: RunRecord) => `${run.createdAt}#${run.uid}`;
    const matching = [...this.runs.values()]
      .filter((run) => run.workflow === workflow && include(run))
      .sort((a, b) => (sortKey(a) < sortKey(b) ? 1 : sortKey(a) > sortKey(b) ? -1 : 0));
    const runs = copy(matching.slice(offset, offset + limit));
    const next = offset + limit;
    return next < matching.length ? { runs, nextToken: String(next) } : { runs };
  }

  private read<T>(method: StoreMethod, args: readonly unknown[], work: () => T): Promise<T> {
    return this.journal.call('store', method, 'read', args, work);
  }

  private write<T>(method: StoreMethod, args: readonly unknown[], work: () => T): Promise<T> {
    return this.journal.call('store', method, 'write', args, work);
  }
}

function pluginHolds(
  current: PluginRecord,
  from: readonly PluginState[],
  generation: number,
  attempt: number | undefined,
): boolean {
  return (
    from.includes(current.state) &&
    current.generation === generation &&
    (attempt === undefined || current.attempt === attempt)
  );
}

function requireStates(operation: string, from: readonly string[]): void {
  if (from.length === 0)
    throw new InvalidStoreRequestError(`${operation}: "from" must name at least one state.`);
}

function sortedById<R>(records: ReadonlyMap<string, R>, prefix: string): R[] {
  return [...records.entries()]
    .filter(([id]) => id.startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, record]) => record);
}

// ---------------------------------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------------------------------

export class MemoryRegistry implements Registry {
  readonly journal: CallJournal;
  private readonly registrations = new Map<string, Registration>();

  constructor(options: { readonly journal?: CallJournal } = {}) {
    this.journal = options.journal ?? new CallJournal();
  }

  /** Stores the registration (validated, defaults applied), replacing one of the same plugin and stage. */
  put(registration: Registration): Promise<void> {
    return this.journal.call('registry', 'put', 'write', [registration], () => {
      const parsed = registrationSchema.safeParse(registration);
      if (!parsed.success) {
        throw new InvalidStoreRequestError(`Invalid registration: ${describeIssues(parsed.error)}`);
      }
      const valid = parsed.data;
      this.registrations.set(registrationId(valid.activity, valid.stage, valid.info.name), copy(valid));
    });
  }

  remove(activity: string, stage: StageName, plugin: string): Promise<void> {
    return this.journal.call('registry', 'remove', 'write', [activity, stage, plugin], () => {
      this.registrations.delete(registrationId(activity, stage, plugin));
    });
  }

  /** The stage's registrations by plugin name, as the DynamoDB query returns them. */
  list(activity: string, stage: StageName): Promise<readonly Registration[]> {
    return this.journal.call('registry', 'list', 'read', [activity, stage], () => this.peek(activity, stage));
  }

  /** The stage's registrations without journaling the read (for the fake SNS delivery). */
  peek(activity: string, stage: StageName): Registration[] {
    return copy(sortedById(this.registrations, `${registrationId(activity, stage, '')}`));
  }

  /** One registration, as stored (read-only: not copied, for the fake SNS delivery on every publish). */
  peekOne(activity: string, stage: StageName, plugin: string): Readonly<Registration> | undefined {
    return this.registrations.get(registrationId(activity, stage, plugin));
  }
}

const registrationId = (activity: string, stage: string, plugin: string): string =>
  `${activity}#${stage}#${plugin}`;
