/**
 * Moving a run through its stages. Every step is a conditional write followed by its side effect
 * (publish or send); when a message comes again the write is refused, the engine finds the state it
 * would have produced and repeats the side effect (ADR 0001). The handler that completes a stage enters
 * the next one inline (ADR 0005).
 */
import { STATES, truncateMessage } from '../contracts/index.js';
import { nextStage } from './config.js';
import type { EngineDeps } from './deps.js';
import { UnknownRunError } from './errors.js';
import { lifecycleEvent } from './events.js';
import { buildPluginMessage, planStage } from './plan.js';
import {
  type PluginRecord,
  type RunRecord,
  type StageKey,
  type StageRecord,
  stageMarkOf,
} from './records.js';
import { OPEN_STAGE, type StartStageCommand, stageKeyOf } from './stage-common.js';

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
    // A nudge may follow a skip whose write completed the stage: move the run on from it.
    advanceCompleted: true,
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
  /** A stage found `Complete` moves the run on even when this is no redelivery (an operator's nudge). */
  readonly advanceCompleted?: boolean;
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
      advanceCompleted: options.advanceCompleted ?? false,
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

/**
 * Which activity the run is in (for liveness, the CLI and a cancel's fence); written when the run
 * enters an activity, after the dispatch, off its critical path. Readers find the stage from the
 * activity's stage items ({@link currentStageOf}).
 */
async function recordPosition(deps: EngineDeps, run: RunRecord, key: StageKey): Promise<void> {
  if (run.position?.activity === key.activity) return;
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
  // Records written before the stage: an operator's marks (own items, announced on the run first, so
  // a stage the run does not name has none) and, on a rerun, the previous generation's records (held
  // by its stage, or own items). A first generation's unmarked stage has nothing to look for.
  const rerun = run.generation > 1;
  const lookForRecords = rerun || (run.marked ?? []).includes(stageMarkOf(key));
  const [registrations, existing] = await Promise.all([
    deps.registry.list(key.activity, key.stage),
    lookForRecords ? deps.store.listStagePlugins(key, { withHeld: rerun }) : [],
  ]);
  const plan = planStage(deps, run, key, registrations, existing);
  if (plan.stage.holdsPlugins) {
    // A narrow stage and its plugins are one record, written at once.
    const created = await deps.store.createStageIfAbsent(plan.stage, plan.records);
    return { created: created.created, stage: created.stage, records: plan.records };
  }
  // Plugin records first: a stage record always finds the records it counts.
  await deps.store.putPluginsIfAbsent(plan.toWrite);
  const created = await deps.store.createStageIfAbsent(plan.stage);
  return { created: created.created, stage: created.stage, records: plan.records };
}

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
  /** The stage's plugin records as just written (a stage that holds them): no need to list them. */
  readonly plugins?: readonly PluginRecord[] | undefined;
  /** See {@link EnterOptions.advanceCompleted}. */
  readonly advanceCompleted?: boolean;
}

/**
 * Looks at the stage as stored and does the one thing that moves it on: dispatch (first or next
 * sequential plugin), complete and advance, or — after a crash — repeat a side effect already decided.
 */
export async function progressStage(
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
      if (options.repair || options.advanceCompleted) {
        await advance(deps, stage, {
          lookFirst: true,
          repair: options.repair,
          triggeredAt: options.triggeredAt,
        });
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
  const plugins = options.plugins ?? (await deps.store.listStagePlugins(stage));
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
      await onStageCompleted(deps, stage, options.triggeredAt);
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
    const targets = (options.plugins ?? (await deps.store.listStagePlugins(stage))).filter(
      (p) => p.generation === stage.generation && p.state === STATES.inProgress && p.attempt === 1,
    );
    if (targets.length > 0) await publish(deps, current, stage, targets, 1);
    return;
  }
  if (stage.mode === 'sequential') {
    const current = run ?? (await deps.store.getRun(stage));
    if (!current || current.state !== STATES.inProgress || current.generation !== stage.generation) return;
    await dispatchNextInSequence(
      deps,
      current,
      stage,
      options.plugins ?? (await deps.store.listStagePlugins(stage)),
      {
        republishInFlight: options.republishInFlight ?? false,
      },
    );
  }
}

/**
 * The write that completed a stage was ours (and only one write can be): observe it and move the run
 * on — the next stage inline, or the run's end.
 */
export async function onStageCompleted(
  deps: EngineDeps,
  stage: StageRecord,
  triggeredAt: string | undefined,
): Promise<void> {
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
    triggeredAt: triggeredAt ?? deps.clock.now().toISOString(),
  });
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

export async function publish(
  deps: EngineDeps,
  run: RunRecord,
  stage: StageKey & { readonly generation: number },
  targets: readonly PluginRecord[],
  attempt: number,
): Promise<void> {
  await deps.dispatcher.publish(buildPluginMessage(deps, run, stage, targets, attempt));
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
export async function failStage(
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

export async function failRun(
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
