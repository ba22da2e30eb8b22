/**
 * The stage engine: everything a stage orchestrator does with the messages of its inbox.
 *
 * Every step is a conditional write followed by its side effect (publish or send). When a message is
 * delivered again — a duplicate, or a retry after a crash between the write and the side effect — the
 * write is refused, the engine finds the state it would have produced, and repeats the side effect.
 * Side effects are therefore at-least-once, while every state change (and so every advance of the run)
 * happens exactly once.
 */
import {
  type Command,
  isMandatoryFor,
  type PluginMessage,
  type PluginState,
  type Registration,
  type Report,
  STATES,
  truncateMessage,
} from '../contracts/index.js';
import { buildMessageAttributes } from './attributes.js';
import { activitySettings, nextStage, retryDelaySeconds } from './config.js';
import type { EngineDeps } from './deps.js';
import { UnknownRunError, ValidationError } from './errors.js';
import { lifecycleEvent } from './events.js';
import type { FinalOutcome } from './ports.js';
import {
  countsDown,
  NARROW_STAGE_MAX,
  type PluginKey,
  type PluginRecord,
  type RunRecord,
  type StageKey,
  type StageRecord,
} from './records.js';

type StartStageCommand = Extract<Command, { kind: 'start-stage' }>;
type RetryCommand = Extract<Command, { kind: 'retry' }>;
type TimeoutCommand = Extract<Command, { kind: 'timeout' }>;

/** Why a plugin is `Do Not Run`: an operator's decision is kept by a rerun; a filter's is re-evaluated. */
export const OPERATOR_SKIP_MESSAGE = 'skipped by an operator';
export const FILTERED_OUT_MESSAGE = 'excluded by its subscription filter policy';

/** Plugin states a stage still waits for. */
const AWAITED: readonly PluginState[] = [STATES.notStarted, STATES.inProgress];
const OPEN_STAGE = [STATES.inProgress, STATES.mandatoryCompleted] as const;

const stageKeyOf = (k: StageKey): StageKey => ({
  workflow: k.workflow,
  uid: k.uid,
  activity: k.activity,
  stage: k.stage,
});
const pluginKeyOf = (k: StageKey, plugin: string): PluginKey => ({ ...stageKeyOf(k), plugin });
const deadlineFrom = (now: Date, seconds: number): string =>
  new Date(now.getTime() + seconds * 1000).toISOString();
const byOrderThenName = (a: { order: number; name: string }, b: { order: number; name: string }) =>
  a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

// ---------------------------------------------------------------------------------------------------
// Starting a stage
// ---------------------------------------------------------------------------------------------------

/**
 * A `start-stage` command: an operator's nudge after a skip, or a hand-off queued by an engine of the
 * previous layout (which sent one per stage). The stage is entered if it does not exist yet, and moved
 * on if it does. Safe to repeat at any point.
 */
export async function startStage(
  deps: EngineDeps,
  command: StartStageCommand,
  delivery: Delivery = { redelivered: true },
): Promise<void> {
  const run = await deps.store.getRun(command);
  if (!run) throw new UnknownRunError(command.workflow, command.uid);
  if (run.generation !== command.generation || run.state !== STATES.inProgress) {
    deps.observer?.note?.('start-stage ignored: the run has moved on', {
      workflow: run.workflow,
      uid: run.uid,
      runState: run.state,
      runGeneration: run.generation,
      commandGeneration: command.generation,
    });
    return;
  }
  await enterStage(deps, run, stageKeyOf(command), {
    lookFirst: true,
    repair: delivery.redelivered,
    triggeredAt: command.triggeredAt,
  });
}

export interface EnterOptions {
  /**
   * The stage may exist already (a repair, or a nudge): read it first and only move it on. On the hot
   * path the stage is new — its creation is guarded by the unique writer that completed the previous
   * stage — so it is created without a read.
   */
  readonly lookFirst: boolean;
  /** The triggering message may be a redelivery: repeat side effects already decided (publishes). */
  readonly repair: boolean;
  readonly triggeredAt?: string | undefined;
}

/**
 * Enters a stage of a run — the inline hand-off: the handler that completes a stage (or starts a run)
 * creates the next stage already `In Progress`, with its plugin records in their working state, and
 * publishes its dispatch itself; no command travels through a queue in between. A stage that awaits
 * nothing is created `Complete` and the run moves straight on. A crash between the write and the
 * publish is repaired when the triggering message comes back: the stage exists, and its in-flight
 * dispatch is published again.
 */
export async function enterStage(
  deps: EngineDeps,
  run: RunRecord,
  key: StageKey,
  options: EnterOptions,
): Promise<void> {
  // The stage exists already (a repair, a nudge): only move it on, repeating its dispatch on a repair.
  const moveOn = async (existing: StageRecord): Promise<void> => {
    await progressStage(deps, run, existing, {
      repair: options.repair,
      republishInFlight: options.repair,
      republishDispatch: options.repair,
      triggeredAt: options.triggeredAt,
    });
    await recordPosition(deps, run, key);
  };
  if (options.lookFirst) {
    const existing = await deps.store.getStage(key);
    if (existing && existing.generation > run.generation) return;
    if (existing && existing.generation === run.generation) return moveOn(existing);
  }
  const { created, stage, records } = await createStage(deps, run, key);
  if (stage.generation !== run.generation) return;
  if (!created) return moveOn(stage);
  if (stage.state === STATES.complete) {
    await recordPosition(deps, run, key);
    await advance(deps, stage, { lookFirst: false, repair: false, triggeredAt: options.triggeredAt });
    return;
  }
  if (stage.mode === 'parallel') {
    const targets = records.filter((p) => p.state === STATES.inProgress && p.attempt === 1);
    if (targets.length > 0) await publish(deps, run, stage, targets, 1);
  } else {
    await dispatchNextInSequence(deps, run, stage, records, { republishInFlight: true });
  }
  observeOverhead(deps, stage, options.triggeredAt);
  await recordPosition(deps, run, key);
}

/** Where the run is (for liveness and the CLI); written after the dispatch, off its critical path. */
async function recordPosition(deps: EngineDeps, run: RunRecord, key: StageKey): Promise<void> {
  if (run.position?.activity === key.activity && run.position.stage === key.stage) return;
  await deps.store.transitionRun(
    run,
    [STATES.inProgress],
    { position: { activity: key.activity, stage: key.stage } },
    { generation: run.generation },
  );
}

/**
 * How a message reached the engine. Repairs (repeating a side effect whose state change is already
 * stored) are needed only when the same message comes back after a crash; a mere duplicate of a
 * message that was handled completely needs none, and skipping them keeps duplicates from
 * multiplying work downstream. When unknown, assume a redelivery: repairs are always safe.
 */
export interface Delivery {
  readonly redelivered: boolean;
}

async function createStage(
  deps: EngineDeps,
  run: RunRecord,
  key: StageKey,
): Promise<{ created: boolean; stage: StageRecord; records: readonly PluginRecord[] }> {
  const [registrations, existing] = await Promise.all([
    deps.registry.list(key.activity, key.stage),
    deps.store.listStagePlugins(key),
  ]);
  const plan = planStage(deps, run, key, registrations, existing);
  // Plugin records first: a stage record always finds the records it counts.
  await deps.store.putPluginsIfAbsent(plan.toWrite);
  const created = await deps.store.createStageIfAbsent(plan.stage);
  return { created: created.created, stage: created.stage, records: plan.records };
}

interface StagePlan {
  readonly stage: StageRecord;
  /** Plugin records to write (records of this generation that already exist are left alone). */
  readonly toWrite: readonly PluginRecord[];
  /** Every plugin record of the stage in this generation, as it will be stored. */
  readonly records: readonly PluginRecord[];
}

/**
 * Decides the stage's plugin set at dispatch. Records of this generation that already exist (an
 * operator's `Do Not Run`, or a crashed earlier attempt) are authoritative. A rerun carries over the
 * plugins that completed or were skipped. A plugin whose filter policy rejects the message is
 * `Do Not Run` and never awaited.
 */
export function planStage(
  deps: Pick<EngineDeps, 'clock' | 'config' | 'matchesFilter'>,
  run: RunRecord,
  key: StageKey,
  registrations: readonly Registration[],
  existing: readonly PluginRecord[],
): StagePlan {
  const now = deps.clock.now();
  const nowIso = now.toISOString();
  const settings = activitySettings(deps.config, key.activity);
  const parallel = key.stage === 'parallel';
  const existingByName = new Map(existing.map((p) => [p.plugin, p]));
  const records = new Map<string, PluginRecord>();
  const toWrite: PluginRecord[] = [];

  for (const record of existing) {
    if (record.generation === run.generation) records.set(record.plugin, record);
  }
  const sorted = [...registrations].sort((a, b) =>
    byOrderThenName({ order: a.info.order, name: a.info.name }, { order: b.info.order, name: b.info.name }),
  );
  for (const registration of sorted) {
    const name = registration.info.name;
    if (records.has(name)) continue;
    const base = {
      ...pluginKeyOf(key, name),
      generation: run.generation,
      mandatory: isMandatoryFor(registration.info, key.activity),
      order: registration.info.order,
      maxAttempts: registration.info.maxAttempts ?? settings.maxAttempts,
      deadlineSeconds: registration.info.deadlineSeconds ?? settings.deadlineSeconds,
      updatedAt: nowIso,
    };
    const previous = existingByName.get(name);
    let record: PluginRecord;
    const keep =
      previous?.state === STATES.complete ||
      (previous?.state === STATES.doNotRun && previous.message === OPERATOR_SKIP_MESSAGE);
    if (previous && keep) {
      record = {
        ...base,
        state: previous.state,
        attempt: previous.attempt,
        ...(previous.result !== undefined ? { result: previous.result } : {}),
        message: `kept from generation ${previous.generation}`,
        stateTimes: previous.stateTimes,
      };
    } else if (!passesFilter(deps, run, key, registration, deadlineFrom(now, base.deadlineSeconds))) {
      record = {
        ...base,
        state: STATES.doNotRun,
        attempt: 0,
        message: FILTERED_OUT_MESSAGE,
        stateTimes: { [STATES.doNotRun]: nowIso },
      };
    } else if (parallel) {
      record = {
        ...base,
        state: STATES.inProgress,
        attempt: 1,
        deadline: deadlineFrom(now, base.deadlineSeconds),
        stateTimes: { [STATES.inProgress]: nowIso },
      };
    } else {
      record = { ...base, state: STATES.notStarted, attempt: 0, stateTimes: { [STATES.notStarted]: nowIso } };
    }
    records.set(name, record);
    toWrite.push(record);
  }

  const awaited = [...records.values()]
    .filter((p) => AWAITED.includes(p.state))
    .sort((a, b) => byOrderThenName({ order: a.order, name: a.plugin }, { order: b.order, name: b.plugin }));
  // A sequential stage's first plugin is created in flight, as parallel plugins are: no second write.
  const first = awaited[0];
  if (!parallel && first && !awaited.some((p) => p.state === STATES.inProgress)) {
    const index = toWrite.indexOf(first);
    if (index >= 0 && first.state === STATES.notStarted) {
      const dispatched: PluginRecord = {
        ...first,
        state: STATES.inProgress,
        attempt: 1,
        deadline: deadlineFrom(now, first.deadlineSeconds),
        stateTimes: { [STATES.inProgress]: nowIso },
      };
      toWrite[index] = dispatched;
      records.set(first.plugin, dispatched);
      awaited[0] = dispatched;
    }
  }
  const nothingAwaited = awaited.length === 0;
  const state = nothingAwaited ? STATES.complete : STATES.inProgress;
  const stage: StageRecord = {
    ...key,
    generation: run.generation,
    state,
    mode: parallel ? 'parallel' : 'sequential',
    ...(parallel ? {} : { sequence: awaited.map((p) => p.plugin) }),
    mandatoryPending: awaited.filter((p) => p.mandatory).length,
    optionalPending: awaited.filter((p) => !p.mandatory).length,
    ...(awaited.length > 0 && awaited.length <= NARROW_STAGE_MAX
      ? {
          countdown: {
            mandatory: awaited.filter((p) => p.mandatory).map((p) => p.plugin),
            optional: awaited.filter((p) => !p.mandatory).map((p) => p.plugin),
            counted: [],
          },
        }
      : {}),
    ...(nothingAwaited ? { message: 'no plugin to wait for' } : {}),
    createdAt: nowIso,
    updatedAt: nowIso,
    stateTimes: { [state]: nowIso },
  };
  return { stage, toWrite, records: [...records.values()] };
}

function passesFilter(
  deps: Pick<EngineDeps, 'clock' | 'config' | 'matchesFilter'>,
  run: RunRecord,
  key: StageKey,
  registration: Registration,
  deadline: string,
): boolean {
  if (!registration.filterPolicy || Object.keys(registration.filterPolicy).length === 0) return true;
  const message = buildPluginMessage(
    deps,
    run,
    { ...key, generation: run.generation },
    [{ plugin: registration.info.name, deadline }],
    1,
  );
  return deps.matchesFilter(registration, {
    attributes: buildMessageAttributes(message),
    body: JSON.stringify(message),
  });
}

// ---------------------------------------------------------------------------------------------------
// Moving a stage on
// ---------------------------------------------------------------------------------------------------

interface ProgressOptions {
  /** The message may be a redelivery: repeat side effects whose state change is already stored. */
  readonly repair: boolean;
  /**
   * The message may be a redelivery of one that crashed after a sequential dispatch: publish the
   * plugin in flight again. (A start-stage command never needs this: its stage is `In Progress`
   * only after its publish.)
   */
  readonly republishInFlight?: boolean;
  /**
   * The stage is being entered again after a crash may have lost its dispatch (the hand-off's
   * repair): a parallel stage publishes its first attempts still in flight again. Never set for a
   * stage's own reports — their redelivery cannot have lost the stage's dispatch.
   */
  readonly republishDispatch?: boolean;
  readonly triggeredAt?: string | undefined;
}

/**
 * Looks at the stage as stored and does the one thing that moves it on: dispatch (first or next
 * sequential plugin), complete and advance, or — after a crash — repeat a side effect already decided.
 */
async function progressStage(
  deps: EngineDeps,
  run: RunRecord | undefined,
  stage: StageRecord,
  options: ProgressOptions,
): Promise<void> {
  switch (stage.state) {
    case STATES.notStarted: {
      const current = run ?? (await deps.store.getRun(stage));
      if (!current || current.state !== STATES.inProgress || current.generation !== stage.generation) return;
      await dispatchNewStage(deps, current, stage, options);
      return;
    }
    case STATES.inProgress:
    case STATES.mandatoryCompleted:
      await settleOpenStage(deps, run, stage, options);
      return;
    case STATES.complete:
      if (options.repair) {
        await advance(deps, stage, { lookFirst: true, repair: true, triggeredAt: options.triggeredAt });
      }
      return;
    case STATES.error:
      if (options.repair) await failRun(deps, stage, stage.failedPlugin ?? 'unknown', stage.message);
      return;
    case STATES.cancelled:
      return;
  }
}

async function dispatchNewStage(
  deps: EngineDeps,
  run: RunRecord,
  stage: StageRecord,
  options: ProgressOptions,
): Promise<void> {
  const nothingAwaited = stage.mandatoryPending === 0 && stage.optionalPending === 0;
  if (nothingAwaited) {
    const done = await deps.store.transitionStage(
      stage,
      [STATES.notStarted],
      { state: STATES.complete, message: 'no plugin to wait for' },
      { generation: stage.generation, requireNothingPending: true },
    );
    if (done.applied || done.current?.state === STATES.complete) {
      await advance(deps, stage, {
        lookFirst: !done.applied,
        repair: !done.applied,
        triggeredAt: options.triggeredAt,
      });
    }
    return;
  }
  const plugins = await deps.store.listStagePlugins(stage);
  if (stage.mode === 'parallel') {
    const targets = plugins.filter(
      (p) => p.generation === stage.generation && p.state === STATES.inProgress && p.attempt === 1,
    );
    if (targets.length > 0) await publish(deps, run, stage, targets, 1);
  } else {
    // The stage is not marked dispatched, so a publish of its first plugin may have been lost.
    await dispatchNextInSequence(deps, run, stage, plugins, { republishInFlight: true });
  }
  observeOverhead(deps, stage, options.triggeredAt);
  await deps.store.transitionStage(
    stage,
    [STATES.notStarted],
    { state: STATES.inProgress },
    { generation: stage.generation },
  );
}

async function settleOpenStage(
  deps: EngineDeps,
  run: RunRecord | undefined,
  stage: StageRecord,
  options: ProgressOptions,
): Promise<void> {
  if (stage.mandatoryPending === 0 && stage.optionalPending === 0) {
    const done = await deps.store.transitionStage(
      stage,
      OPEN_STAGE,
      { state: STATES.complete },
      { generation: stage.generation, requireNothingPending: true },
    );
    if (done.applied) {
      const started = stage.stateTimes[STATES.inProgress] ?? stage.createdAt;
      deps.observer?.stageCompleted?.({
        workflow: stage.workflow,
        activity: stage.activity,
        stage: stage.stage,
        durationMs: deps.clock.now().getTime() - Date.parse(started),
      });
      await advance(deps, stage, {
        lookFirst: false,
        repair: false,
        triggeredAt: options.triggeredAt ?? deps.clock.now().toISOString(),
      });
    } else if (done.current?.state === STATES.complete && options.repair) {
      await advance(deps, stage, { lookFirst: true, repair: true, triggeredAt: options.triggeredAt });
    }
    return;
  }
  if (stage.mandatoryPending === 0 && stage.state === STATES.inProgress) {
    // Only optional plugins are still running: show it, as the predecessor did.
    await deps.store.transitionStage(
      stage,
      [STATES.inProgress],
      { state: STATES.mandatoryCompleted },
      { generation: stage.generation },
    );
  }
  if (stage.mode === 'parallel' && options.republishDispatch) {
    const current = run ?? (await deps.store.getRun(stage));
    if (!current || current.state !== STATES.inProgress || current.generation !== stage.generation) return;
    const targets = (await deps.store.listStagePlugins(stage)).filter(
      (p) => p.generation === stage.generation && p.state === STATES.inProgress && p.attempt === 1,
    );
    if (targets.length > 0) await publish(deps, current, stage, targets, 1);
    return;
  }
  if (stage.mode === 'sequential') {
    const current = run ?? (await deps.store.getRun(stage));
    if (!current || current.state !== STATES.inProgress || current.generation !== stage.generation) return;
    await dispatchNextInSequence(deps, current, stage, await deps.store.listStagePlugins(stage), {
      republishInFlight: options.republishInFlight ?? false,
    });
  }
}

/**
 * Sequential stages run one plugin at a time, in `order`. Nothing new is dispatched while a plugin is
 * in flight or waiting for its retry. When the message being handled may be a redelivery after a
 * crash (`republishInFlight`), the plugin in flight is published again: its publish may be what the
 * crash lost, and a repeated publish is harmless.
 */
async function dispatchNextInSequence(
  deps: EngineDeps,
  run: RunRecord,
  stage: StageRecord,
  plugins: readonly PluginRecord[],
  options: { readonly republishInFlight: boolean },
): Promise<void> {
  const byName = new Map(
    plugins.filter((p) => p.generation === stage.generation).map((p) => [p.plugin, p] as const),
  );
  const inFlight = [...byName.values()].find((p) => p.state === STATES.inProgress);
  if (inFlight) {
    if (options.republishInFlight) await publish(deps, run, stage, [inFlight], inFlight.attempt);
    return;
  }
  if ([...byName.values()].some((p) => p.state === STATES.notStarted && p.attempt > 0)) return;
  const next = (stage.sequence ?? [])
    .map((name) => byName.get(name))
    .find((p) => p?.state === STATES.notStarted);
  if (!next) return;
  await dispatchAttempt(deps, run, stage, next, 1);
}

/** Moves one plugin to `In Progress` at `attempt` and publishes; repeats the publish if already moved. */
async function dispatchAttempt(
  deps: EngineDeps,
  run: RunRecord,
  stage: StageRecord,
  plugin: PluginRecord,
  attempt: number,
): Promise<void> {
  const deadline = new Date(deps.clock.now().getTime() + plugin.deadlineSeconds * 1000).toISOString();
  const moved = await deps.store.transitionPlugin(
    plugin,
    [STATES.notStarted],
    { state: STATES.inProgress, attempt, deadline, message: null },
    { generation: stage.generation, attempt: attempt - 1 },
  );
  const record = moved.applied ? moved.record : moved.current;
  if (record && record.state === STATES.inProgress && record.attempt === attempt) {
    await publish(deps, run, stage, [record], attempt);
  }
}

async function publish(
  deps: EngineDeps,
  run: RunRecord,
  stage: StageKey & { readonly generation: number },
  targets: readonly PluginRecord[],
  attempt: number,
): Promise<void> {
  await deps.dispatcher.publish(buildPluginMessage(deps, run, stage, targets, attempt));
}

/** The plugin message of a dispatch: what is published, and what filter policies are judged on. */
export function buildPluginMessage(
  deps: Pick<EngineDeps, 'clock' | 'config'>,
  run: RunRecord,
  stage: StageKey & { readonly generation: number },
  targets: readonly Pick<PluginRecord, 'plugin' | 'deadline'>[],
  attempt: number,
): PluginMessage {
  const deadlines: Record<string, string> = {};
  for (const target of targets) {
    if (target.deadline) deadlines[target.plugin] = target.deadline;
  }
  return {
    schemaVersion: 1,
    kind: 'plugin-task',
    workflow: run.workflow,
    uid: run.uid,
    generation: stage.generation,
    activity: stage.activity,
    stage: stage.stage,
    plugins: targets.map((t) => t.plugin),
    attempt,
    dispatchedAt: deps.clock.now().toISOString(),
    deadlines,
    metadata: run.metadata,
    replyTo: { queueUrl: deps.config.inboxUrl(stage.activity, stage.stage) },
  };
}

function observeOverhead(deps: EngineDeps, stage: StageKey, triggeredAt: string | undefined): void {
  if (!triggeredAt) return;
  deps.observer?.stageOverhead?.({
    workflow: stage.workflow,
    activity: stage.activity,
    stage: stage.stage,
    overheadMs: deps.clock.now().getTime() - Date.parse(triggeredAt),
  });
}

/**
 * After a stage completed: enter the next stage (inline), or end the run. Safe to repeat: a repeated
 * advance finds the next stage created and only republishes its in-flight dispatch (`repair`).
 */
async function advance(deps: EngineDeps, stage: StageRecord, options: EnterOptions): Promise<void> {
  const run = await deps.store.getRun(stage);
  if (!run || run.generation !== stage.generation) return;
  if (run.state === STATES.cancelled || run.state === STATES.error) return;
  const next = nextStage(run.activities, stage.activity, stage.stage);
  if (next && run.state === STATES.inProgress) {
    await enterStage(deps, run, { workflow: run.workflow, uid: run.uid, ...next }, options);
    return;
  }
  if (next) return;
  const now = deps.clock.now().toISOString();
  const ended = await deps.store.transitionRun(
    run,
    [STATES.inProgress],
    { state: STATES.complete, endedAt: now },
    { generation: run.generation },
  );
  const final = ended.applied ? ended.record : ended.current;
  if (final?.state === STATES.complete && final.generation === stage.generation) {
    await deps.events.publish(lifecycleEvent('run.completed', final, now));
    if (ended.applied) {
      deps.observer?.runEnded?.({
        workflow: final.workflow,
        uid: final.uid,
        state: final.state,
        durationMs: Date.parse(now) - Date.parse(final.stateTimes[STATES.inProgress] ?? final.createdAt),
      });
    }
  }
}

/** A mandatory plugin failed for good: the stage fails, and with it the run. Safe to repeat. */
async function failStage(
  deps: EngineDeps,
  stage: StageRecord,
  plugin: string,
  message: string | undefined,
): Promise<void> {
  const text = truncateMessage(`${plugin}: ${message ?? 'failed'}`);
  const failed = await deps.store.transitionStage(
    stage,
    [STATES.notStarted, ...OPEN_STAGE],
    { state: STATES.error, failedPlugin: plugin, message: text ?? null },
    { generation: stage.generation },
  );
  if (failed.applied || failed.current?.state === STATES.error) {
    await failRun(deps, stage, plugin, text);
  }
}

async function failRun(
  deps: EngineDeps,
  stage: StageRecord,
  plugin: string,
  reason: string | undefined,
): Promise<void> {
  const now = deps.clock.now().toISOString();
  const message =
    truncateMessage(`${stage.activity}/${stage.stage}: ${reason ?? `${plugin}: failed`}`) ?? null;
  const ended = await deps.store.transitionRun(
    stage,
    [STATES.inProgress],
    { state: STATES.error, endedAt: now, message },
    { generation: stage.generation },
  );
  const final = ended.applied ? ended.record : ended.current;
  if (final?.state !== STATES.error || final.generation !== stage.generation) return;
  await deps.events.publish(
    lifecycleEvent('run.failed', final, now, {
      activity: stage.activity,
      stage: stage.stage,
      plugin,
      ...(final.message ? { message: final.message } : {}),
    }),
  );
  if (ended.applied) {
    deps.observer?.runEnded?.({
      workflow: final.workflow,
      uid: final.uid,
      state: final.state,
      durationMs: Date.parse(now) - Date.parse(final.stateTimes[STATES.inProgress] ?? final.createdAt),
    });
  }
}

// ---------------------------------------------------------------------------------------------------
// Reports and timeouts
// ---------------------------------------------------------------------------------------------------

/** A report from a plugin, or a deadline the sweeper found passed. */
export type AttemptSignal =
  | { readonly kind: 'report'; readonly report: Report }
  | { readonly kind: 'timeout'; readonly command: TimeoutCommand };

export interface SignalResult {
  /** What happened to the signal, for logs and tests. */
  readonly outcome: 'applied' | 'duplicate' | 'late' | 'retry-scheduled' | 'progress' | 'ignored';
}

type Decision =
  | { readonly type: 'progress'; readonly plugin: PluginRecord; readonly message?: string | undefined }
  | {
      readonly type: 'final';
      readonly outcome: FinalOutcome;
      readonly plugin: PluginRecord;
      readonly timedOut: boolean;
    }
  | {
      readonly type: 'retry';
      readonly plugin: PluginRecord;
      readonly message: string;
      readonly timedOut: boolean;
    }
  | { readonly type: 'duplicate'; readonly plugin?: PluginRecord }
  | { readonly type: 'late'; readonly plugin: PluginRecord; readonly reason: string }
  | { readonly type: 'ignored' };

/**
 * Applies a batch of reports and timeouts that all belong to one stage of one run. Final outcomes are
 * written together with the stage's count-down in one atomic write per chunk; then the stage is moved
 * on once. Throws ValidationError for a signal that names no plugin of the stage (the caller
 * quarantines it); any other error leaves the batch to be delivered again, which is safe.
 */
export async function applySignals(
  deps: EngineDeps,
  key: StageKey,
  signals: readonly AttemptSignal[],
  delivery: Delivery = { redelivered: true },
): Promise<SignalResult[]> {
  const batchStartedAt = deps.clock.now().toISOString();
  const stage = await deps.store.getStage(key);
  if (!stage) {
    throw new ValidationError(
      `No stage ${key.activity}/${key.stage} exists for run "${key.uid}" of "${key.workflow}": the report or timeout cannot belong to it.`,
    );
  }
  if (stage.state === STATES.cancelled) return recordAllLate(deps, key, signals, 'the run was cancelled');
  const names = [...new Set(signals.map(signalPlugin))];
  const records = new Map<string, PluginRecord | undefined>(
    await Promise.all(
      names.map(async (name) => [name, await deps.store.getPlugin(pluginKeyOf(key, name))] as const),
    ),
  );

  const decisions: Decision[] = signals.map((signal) => {
    const plugin = records.get(signalPlugin(signal));
    if (!plugin) {
      throw new ValidationError(
        `Plugin "${signalPlugin(signal)}" has no execution in ${key.activity}/${key.stage} of run "${key.uid}" (${key.workflow}). Check the plugin name and the stage it reports to.`,
      );
    }
    return decide(deps, plugin, signal);
  });

  // A run that has ended (cancelled, or failed by another plugin) retries nothing: those failures are final.
  let runOver = false;
  if (decisions.some((d) => d.type === 'retry')) {
    const run = await deps.store.getRun(key);
    runOver = !run || run.state !== STATES.inProgress || run.generation !== stage.generation;
  }
  // The same plugin twice in one batch: the first actionable decision wins, the rest are duplicates.
  const seen = new Set<string>();
  const effective = decisions.map((decision): Decision => {
    if (decision.type !== 'final' && decision.type !== 'retry') return decision;
    if (seen.has(decision.plugin.plugin)) return { type: 'duplicate', plugin: decision.plugin };
    seen.add(decision.plugin.plugin);
    if (decision.type === 'retry' && runOver && decision.plugin.state === STATES.inProgress) {
      return finalFailure(
        decision.plugin,
        `${decision.message} (no retry: the run has ended)`,
        decision.timedOut,
      );
    }
    return decision;
  });

  const finals = effective.filter((d): d is Extract<Decision, { type: 'final' }> => d.type === 'final');
  // A redelivered duplicate of a final outcome may come from a crash between the outcome's write and
  // its count-down by name: count it again (idempotent). Wide stages counted down in the same write.
  const recount =
    delivery.redelivered && stage.countdown
      ? effective.flatMap((d) =>
          d.type === 'duplicate' && d.plugin && countsDown(d.plugin)
            ? [pluginKeyOf(key, d.plugin.plugin)]
            : [],
        )
      : [];
  const { applied, stage: counted } =
    finals.length > 0 || recount.length > 0
      ? await deps.store.recordFinalOutcomes(
          stage,
          finals.map((d) => d.outcome),
          recount.length > 0 ? { recount } : {},
        )
      : { applied: [] as PluginKey[], stage: undefined };
  const appliedNames = new Set(applied.map((k) => k.plugin));

  const results: SignalResult[] = [];
  let repair = false;
  let moved = appliedNames.size > 0;
  let mandatoryFailure: { plugin: string; message: string | undefined } | undefined;
  for (const decision of effective) {
    switch (decision.type) {
      case 'progress':
        // `In Progress` was recorded at dispatch (with its time); a report only adds its message.
        if (decision.message) {
          await deps.store.transitionPlugin(
            decision.plugin,
            [STATES.inProgress],
            { message: truncateMessage(decision.message) ?? null },
            { generation: decision.plugin.generation, attempt: decision.plugin.attempt },
          );
        }
        results.push({ outcome: 'progress' });
        break;
      case 'final': {
        const name = decision.plugin.plugin;
        if (!appliedNames.has(name)) {
          // Someone else concluded this attempt between our read and our write: they move it on.
          results.push({ outcome: 'duplicate' });
          break;
        }
        await onFinalApplied(deps, stage, decision);
        if (
          decision.plugin.mandatory &&
          decision.outcome.patch.state !== STATES.complete &&
          !mandatoryFailure
        ) {
          mandatoryFailure = { plugin: name, message: decision.outcome.patch.message ?? undefined };
        }
        results.push({ outcome: 'applied' });
        break;
      }
      case 'retry':
        await scheduleRetry(deps, stage, decision, delivery);
        moved = true;
        results.push({ outcome: 'retry-scheduled' });
        break;
      case 'duplicate':
        if (delivery.redelivered) {
          repair = true;
          if (decision.plugin)
            await repeatFailureEffects(deps, stage, decision.plugin, (failure) => {
              mandatoryFailure ??= failure;
            });
        }
        results.push({ outcome: 'duplicate' });
        break;
      case 'late':
        await deps.store.recordLateReport(decision.plugin);
        deps.observer?.lateReport?.({ ...pluginKeyOf(key, decision.plugin.plugin), reason: decision.reason });
        results.push({ outcome: 'late' });
        break;
      case 'ignored':
        results.push({ outcome: 'ignored' });
        break;
    }
  }

  if (mandatoryFailure) {
    await failStage(deps, stage, mandatoryFailure.plugin, mandatoryFailure.message);
    return results;
  }
  if (moved || repair) {
    // A count-down by name returns the stage it wrote; otherwise read it again.
    const fresh = counted ?? (await deps.store.getStage(key));
    if (fresh && fresh.generation === stage.generation) {
      await progressStage(deps, undefined, fresh, {
        repair,
        republishInFlight: repair,
        triggeredAt: batchStartedAt,
      });
    }
  }
  return results;
}

/** Signals for a stage that can no longer move (its run was cancelled): recorded as late, nothing else. */
async function recordAllLate(
  deps: EngineDeps,
  key: StageKey,
  signals: readonly AttemptSignal[],
  reason: string,
): Promise<SignalResult[]> {
  const results: SignalResult[] = [];
  for (const signal of signals) {
    if (signal.kind === 'report') {
      const plugin = pluginKeyOf(key, signal.report.plugin);
      await deps.store.recordLateReport(plugin);
      deps.observer?.lateReport?.({ ...plugin, reason });
      results.push({ outcome: 'late' });
    } else {
      results.push({ outcome: 'ignored' });
    }
  }
  return results;
}

/**
 * A redelivered signal whose failure was recorded before a crash: repeat what followed the record
 * (the event; for a mandatory plugin, failing the stage and the run).
 */
async function repeatFailureEffects(
  deps: EngineDeps,
  stage: StageRecord,
  plugin: PluginRecord,
  onMandatoryFailure: (failure: { plugin: string; message: string | undefined }) => void,
): Promise<void> {
  if (plugin.state !== STATES.error && plugin.state !== STATES.timedOut) return;
  await publishFailureEvent(deps, stage, plugin, plugin.state === STATES.timedOut, plugin.message);
  if (plugin.mandatory) onMandatoryFailure({ plugin: plugin.plugin, message: plugin.message });
}

function signalPlugin(signal: AttemptSignal): string {
  return signal.kind === 'report' ? signal.report.plugin : signal.command.plugin;
}

function decide(deps: EngineDeps, plugin: PluginRecord, signal: AttemptSignal): Decision {
  const generation = signal.kind === 'report' ? signal.report.generation : signal.command.generation;
  const attempt = signal.kind === 'report' ? signal.report.attempt : signal.command.attempt;
  if (generation !== plugin.generation) {
    return {
      type: 'late',
      plugin,
      reason: `generation ${generation} is over (the run is at ${plugin.generation})`,
    };
  }
  if (signal.kind === 'timeout') {
    const deadline = plugin.deadline ? Date.parse(plugin.deadline) : Number.POSITIVE_INFINITY;
    const overdue = deadline <= deps.clock.now().getTime();
    if (plugin.attempt !== attempt) return { type: 'ignored' };
    if (plugin.state === STATES.timedOut) return { type: 'duplicate', plugin };
    if (plugin.state === STATES.notStarted && attempt > 0) {
      // This timeout was already turned into a retry; repeat the retry command in case it was lost.
      return { type: 'retry', plugin, message: plugin.message ?? 'timed out', timedOut: true };
    }
    if (plugin.state !== STATES.inProgress || !overdue) return { type: 'ignored' };
    const message = `no report within ${plugin.deadlineSeconds} s (attempt ${attempt} of ${plugin.maxAttempts})`;
    return concludeFailure(plugin, message, true, true);
  }
  const report = signal.report;
  const finalState = report.status === 'Complete' ? STATES.complete : STATES.error;
  if (!AWAITED.includes(plugin.state)) {
    if (plugin.attempt === attempt && plugin.state === finalState) return { type: 'duplicate', plugin };
    return { type: 'late', plugin, reason: `the plugin is already ${plugin.state}` };
  }
  if (attempt !== plugin.attempt) {
    return {
      type: 'late',
      plugin,
      reason: `attempt ${attempt} is over (the plugin is at attempt ${plugin.attempt})`,
    };
  }
  switch (report.status) {
    case 'In Progress':
      return plugin.state === STATES.inProgress
        ? { type: 'progress', plugin, message: report.message }
        : { type: 'ignored' };
    case 'Complete':
      // Accepted from `Not Started` too: a slow attempt that finishes after its timeout still counts.
      return {
        type: 'final',
        plugin,
        timedOut: false,
        outcome: {
          key: plugin,
          generation: plugin.generation,
          from: AWAITED,
          attempt,
          countDown: plugin.mandatory ? 'mandatory' : 'optional',
          patch: {
            state: STATES.complete,
            deadline: null,
            message: truncateMessage(report.message) ?? null,
            ...(report.result !== undefined ? { result: report.result } : {}),
          },
        },
      };
    case 'Error':
      if (plugin.state === STATES.notStarted) {
        // This attempt already failed and its retry was decided: repeat the retry command, which is
        // idempotent, in case a crash lost it.
        return {
          type: 'retry',
          plugin,
          message: plugin.message ?? report.message ?? 'failed',
          timedOut: false,
        };
      }
      return concludeFailure(
        plugin,
        report.message ?? 'the plugin reported an error',
        report.retryable,
        false,
        report.code,
      );
  }
}

function concludeFailure(
  plugin: PluginRecord,
  message: string,
  retryable: boolean,
  timedOut: boolean,
  code?: string,
): Decision {
  const text = truncateMessage(message) ?? message;
  if (retryable && plugin.attempt < plugin.maxAttempts) {
    return { type: 'retry', plugin, message: text, timedOut };
  }
  return finalFailure(plugin, text, timedOut, code);
}

/**
 * A plugin failing for good. An optional one is counted down like a success. A mandatory one is not:
 * its stage can then never complete past it, whatever other reports race with the failure, and the
 * stage fails instead.
 */
function finalFailure(
  plugin: PluginRecord,
  message: string,
  timedOut: boolean,
  /** The plugin's `PluginError.code`, stored as `errorCode` (the kit's status reader shows it). */
  code?: string,
): Extract<Decision, { type: 'final' }> {
  return {
    type: 'final',
    plugin,
    timedOut,
    outcome: {
      key: plugin,
      generation: plugin.generation,
      from: [STATES.inProgress],
      attempt: plugin.attempt,
      countDown: plugin.mandatory ? 'none' : 'optional',
      patch: {
        state: timedOut ? STATES.timedOut : STATES.error,
        deadline: null,
        message,
        ...(code ? { errorCode: code } : {}),
      },
    },
  };
}

async function onFinalApplied(
  deps: EngineDeps,
  stage: StageRecord,
  decision: Extract<Decision, { type: 'final' }>,
): Promise<void> {
  const { plugin, outcome } = decision;
  const started = plugin.stateTimes[STATES.inProgress];
  deps.observer?.pluginFinished?.({
    workflow: plugin.workflow,
    activity: plugin.activity,
    stage: plugin.stage,
    plugin: plugin.plugin,
    state: outcome.patch.state,
    ...(started ? { durationMs: deps.clock.now().getTime() - Date.parse(started) } : {}),
  });
  if (outcome.patch.state === STATES.complete) return;
  const message = typeof outcome.patch.message === 'string' ? outcome.patch.message : undefined;
  await publishFailureEvent(deps, stage, plugin, decision.timedOut, message);
}

async function publishFailureEvent(
  deps: EngineDeps,
  stage: StageRecord,
  plugin: PluginRecord,
  timedOut: boolean,
  message: string | undefined,
): Promise<void> {
  await deps.events.publish(
    lifecycleEvent(timedOut ? 'plugin.timed-out' : 'plugin.failed', stage, deps.clock.now().toISOString(), {
      activity: stage.activity,
      stage: stage.stage,
      plugin: plugin.plugin,
      attempt: plugin.attempt,
      ...(message ? { message } : {}),
    }),
  );
}

async function scheduleRetry(
  deps: EngineDeps,
  stage: StageRecord,
  decision: Extract<Decision, { type: 'retry' }>,
  delivery: Delivery,
): Promise<void> {
  const { plugin } = decision;
  // A repeated decision (the plugin already waits for its retry) only repeats the command.
  const moved = await deps.store.transitionPlugin(
    plugin,
    [STATES.inProgress],
    { state: STATES.notStarted, deadline: null, message: decision.message },
    { generation: plugin.generation, attempt: plugin.attempt },
  );
  const current = moved.applied ? moved.record : moved.current;
  if (!current || current.state !== STATES.notStarted || current.attempt !== plugin.attempt) return;
  // The retry was decided before. Only a redelivery (the command may have been lost in a crash)
  // repeats its command: a duplicate timeout or report must not multiply retries (issue 12's burst).
  if (!moved.applied && !delivery.redelivered) return;
  const delaySeconds = retryDelaySeconds(activitySettings(deps.config, plugin.activity), plugin.attempt);
  await deps.commands.send(
    {
      schemaVersion: 1,
      kind: 'retry',
      workflow: plugin.workflow,
      uid: plugin.uid,
      generation: plugin.generation,
      activity: plugin.activity,
      stage: plugin.stage,
      plugins: [plugin.plugin],
      attempt: plugin.attempt,
    },
    { delaySeconds },
  );
  if (moved.applied) {
    deps.observer?.pluginRetried?.({
      workflow: plugin.workflow,
      activity: plugin.activity,
      stage: plugin.stage,
      plugin: plugin.plugin,
      attempt: plugin.attempt,
      reason: decision.message,
    });
  }
  if (moved.applied || delivery.redelivered) {
    // Repeated after a crash, the events may have been lost; they have stable ids.
    const now = deps.clock.now().toISOString();
    const detail = {
      activity: stage.activity,
      stage: stage.stage,
      plugin: plugin.plugin,
      attempt: plugin.attempt,
      message: decision.message,
    };
    if (decision.timedOut) {
      await deps.events.publish(lifecycleEvent('plugin.timed-out', stage, now, detail));
    }
    await deps.events.publish(lifecycleEvent('plugin.retrying', stage, now, detail));
  }
}

// ---------------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------------

/**
 * Dispatches the next attempt of plugins whose previous attempt failed. Safe to repeat: the attempt is
 * published by the command that moved it, and again only when that command comes back as a
 * redelivery (a crash may have lost the publish) — never by a duplicate command.
 */
export async function retryPlugins(
  deps: EngineDeps,
  commands: readonly RetryCommand[],
  delivery: Delivery = { redelivered: true },
): Promise<void> {
  const first = commands[0];
  if (!first) return;
  const key = stageKeyOf(first);
  const [run, stage] = await Promise.all([deps.store.getRun(key), deps.store.getStage(key)]);
  if (!run || !stage || run.state !== STATES.inProgress) return;
  if (!(OPEN_STAGE as readonly string[]).includes(stage.state)) return;
  const byAttempt = new Map<number, PluginRecord[]>();
  for (const command of commands) {
    if (command.generation !== stage.generation || run.generation !== stage.generation) continue;
    for (const name of command.plugins) {
      const plugin = await deps.store.getPlugin(pluginKeyOf(key, name));
      if (!plugin || plugin.generation !== stage.generation) continue;
      const nextAttempt = command.attempt + 1;
      const deadline = new Date(deps.clock.now().getTime() + plugin.deadlineSeconds * 1000).toISOString();
      const moved = await deps.store.transitionPlugin(
        plugin,
        [STATES.notStarted],
        { state: STATES.inProgress, attempt: nextAttempt, deadline, message: null },
        { generation: stage.generation, attempt: command.attempt },
      );
      const record = moved.applied ? moved.record : moved.current;
      if (!moved.applied && !delivery.redelivered) continue;
      if (record?.state === STATES.inProgress && record.attempt === nextAttempt) {
        const list = byAttempt.get(nextAttempt) ?? [];
        if (!list.some((p) => p.plugin === record.plugin)) list.push(record);
        byAttempt.set(nextAttempt, list);
      }
    }
  }
  for (const [attempt, targets] of byAttempt) {
    await publish(deps, run, stage, targets, attempt);
  }
}
