/**
 * Reports and timeouts: what each one means for its plugin's attempt (progress, a final outcome, a
 * retry, a duplicate, a late report), the count-down of its stage, and what follows.
 */
import { type Report, STATES, truncateMessage } from '../contracts/index.js';
import { activitySettings, retryDelaySeconds } from './config.js';
import type { EngineDeps } from './deps.js';
import { ValidationError } from './errors.js';
import { lifecycleEvent } from './events.js';
import type { FinalOutcome } from './ports.js';
import { type Delivery, failStage, onStageCompleted, progressStage } from './progress.js';
import {
  type AttemptRecord,
  countsDown,
  type PluginKey,
  type PluginRecord,
  type StageKey,
  type StageRecord,
} from './records.js';
import { AWAITED, pluginKeyOf, type TimeoutCommand } from './stage-common.js';

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
      /** The failed attempt's `PluginError.code`, kept in its history. */
      readonly errorCode?: string;
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
  const view = await deps.store.readStage(key);
  const stage = view?.stage;
  if (!stage) {
    throw new ValidationError(
      `No stage ${key.activity}/${key.stage} exists for run "${key.uid}" of "${key.workflow}": the report or timeout cannot belong to it.`,
    );
  }
  if (stage.state === STATES.cancelled) return recordAllLate(deps, key, signals, 'the run was cancelled');
  const names = [...new Set(signals.map(signalPlugin))];
  // A stage that holds its plugins was read with them; a wide one reads the plugins it needs.
  const held = view.plugins;
  const records = new Map<string, PluginRecord | undefined>(
    held
      ? names.map((name) => [name, held.find((p) => p.plugin === name)] as const)
      : await Promise.all(
          names.map(
            async (name) =>
              [name, await deps.store.getPlugin({ ...pluginKeyOf(key, name), inStage: false })] as const,
          ),
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
    delivery.redelivered && stage.countdown && !stage.holdsPlugins
      ? effective.flatMap((d) =>
          d.type === 'duplicate' && d.plugin && countsDown(d.plugin)
            ? [pluginKeyOf(key, d.plugin.plugin)]
            : [],
        )
      : [];
  const recorded =
    finals.length > 0 || recount.length > 0
      ? await deps.store.recordFinalOutcomes(
          stage,
          finals.map((d) => d.outcome),
          recount.length > 0 ? { recount } : {},
        )
      : undefined;
  const applied: readonly PluginKey[] = recorded?.applied ?? [];
  const counted = recorded?.stage;
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
  if (recorded?.completed && counted) {
    // The write that counted the last plugin down completed the stage: move the run on.
    await onStageCompleted(deps, counted, batchStartedAt);
    return results;
  }
  if (moved || repair) {
    // A count-down returns the stage it wrote (with its plugins, if it holds them); else read it again.
    const fresh = counted ?? (await deps.store.getStage(key));
    if (fresh && fresh.generation === stage.generation) {
      await progressStage(deps, undefined, fresh, {
        repair,
        republishInFlight: repair,
        triggeredAt: batchStartedAt,
        plugins: counted ? recorded?.plugins : undefined,
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
    return {
      type: 'retry',
      plugin,
      message: text,
      timedOut,
      ...(code !== undefined ? { errorCode: code } : {}),
    };
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
  const now = deps.clock.now().toISOString();
  const startedAt = plugin.stateTimes[STATES.inProgress];
  const archive: AttemptRecord = {
    attempt: plugin.attempt,
    outcome: decision.timedOut ? STATES.timedOut : STATES.error,
    ...(startedAt !== undefined ? { startedAt } : {}),
    endedAt: now,
    ...(decision.message ? { message: decision.message } : {}),
    ...(decision.errorCode ? { errorCode: decision.errorCode } : {}),
  };
  const moved = await deps.store.transitionPlugin(
    plugin,
    [STATES.inProgress],
    { state: STATES.notStarted, deadline: null, message: decision.message, archive },
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
