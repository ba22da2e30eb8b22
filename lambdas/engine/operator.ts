/**
 * Operator overrides, used by the CLI: cancel a run, skip a plugin.
 */
import {
  isFinalRunState,
  isMandatoryFor,
  STAGE_NAMES,
  STATES,
  type StageName,
  truncateMessage,
} from '../contracts/index.js';
import { DEFAULT_ACTIVITY_SETTINGS, type EngineConfig } from './config.js';
import type { EngineDeps } from './deps.js';
import { UnknownRunError, ValidationError } from './errors.js';
import { lifecycleEvent } from './events.js';
import { type RunKey, type RunRecord, stageMarkOf } from './records.js';
import { OPERATOR_SKIP_MESSAGE } from './stage-common.js';

/** Stops a run. Reports that arrive later are still recorded, and change nothing. */
export async function cancelRun(
  deps: Pick<EngineDeps, 'store' | 'events' | 'clock'>,
  key: RunKey,
  reason?: string,
): Promise<RunRecord> {
  const run = await deps.store.getRun(key);
  if (!run) throw new UnknownRunError(key.workflow, key.uid);
  if (run.state === STATES.cancelled) {
    // A repeated cancel (e.g. after a crash before the fence or the event): repeat both.
    await fenceCurrentStage(deps, run);
    const at = run.endedAt ?? run.updatedAt;
    await deps.events.publish(lifecycleEvent('run.cancelled', run, at, reason ? { message: reason } : {}));
    return run;
  }
  if (isFinalRunState(run.state)) {
    throw new ValidationError(
      `Run "${key.uid}" of "${key.workflow}" is already ${run.state}; there is nothing to cancel.`,
    );
  }
  const now = deps.clock.now().toISOString();
  const moved = await deps.store.transitionRun(
    run,
    [STATES.inProgress],
    {
      state: STATES.cancelled,
      endedAt: now,
      message: truncateMessage(reason ?? 'cancelled by an operator') ?? null,
    },
    { generation: run.generation },
  );
  if (!moved.applied) {
    throw new ValidationError(
      `Run "${key.uid}" of "${key.workflow}" changed while cancelling (now ${moved.current?.state}); look again.`,
    );
  }
  await fenceCurrentStage(deps, moved.record);
  await deps.events.publish(
    lifecycleEvent('run.cancelled', moved.record, now, reason ? { message: reason } : {}),
  );
  return moved.record;
}

/**
 * Closes the open stage of the activity the run is in: reports that arrive for it later find it
 * `Cancelled` and are recorded as late, changing nothing (the report path reads the stage, never the
 * run). The run names only its activity: every stage of it that is still open is fenced.
 */
async function fenceCurrentStage(deps: Pick<EngineDeps, 'store'>, run: RunRecord): Promise<void> {
  if (!run.position) return;
  const { activity } = run.position;
  await Promise.all(
    STAGE_NAMES.map((stage) =>
      deps.store.transitionStage(
        { workflow: run.workflow, uid: run.uid, activity, stage },
        [STATES.notStarted, STATES.inProgress, STATES.mandatoryCompleted],
        { state: STATES.cancelled, message: 'the run was cancelled' },
        { generation: run.generation },
      ),
    ),
  );
}

/**
 * Marks a plugin `Do Not Run` for the run's current generation. Before its stage starts, the stage
 * will not dispatch it; while its stage waits for it (not yet dispatched, or waiting for a retry), it
 * stops being awaited. A plugin that is running or finished cannot be skipped.
 *
 * A plugin its stage has not planned yet must be registered for that activity stage (the error names
 * the registered ones); its record takes the registration's values (mandatory in this activity, order,
 * attempts, deadline), with the activity's settings (`config.activities`, else the defaults) where the
 * registration has none, exactly as the stage would have planned it.
 */
export async function skipPlugin(
  deps: Pick<EngineDeps, 'store' | 'clock' | 'commands' | 'registry'> & {
    readonly config?: Pick<EngineConfig, 'activities'>;
  },
  key: RunKey & { readonly activity: string; readonly stage: StageName; readonly plugin: string },
): Promise<'skipped'> {
  const run = await deps.store.getRun(key);
  if (!run) throw new UnknownRunError(key.workflow, key.uid);
  if (isFinalRunState(run.state)) {
    throw new ValidationError(`Run "${key.uid}" is ${run.state}; skip plugins before a rerun instead.`);
  }
  const now = deps.clock.now().toISOString();
  const existing = await deps.store.getPlugin(key);
  if (!existing || existing.generation < run.generation) {
    // Its stage has not started in this generation: record the decision for the dispatch to respect.
    const registrations = await deps.registry.list(key.activity, key.stage);
    const registration = registrations.find((r) => r.info.name === key.plugin);
    if (!registration) {
      const names = registrations.map((r) => r.info.name).sort();
      throw new ValidationError(
        `Plugin "${key.plugin}" is not registered for ${key.activity}/${key.stage}; ${
          names.length > 0
            ? `the registered ones are ${names.join(', ')}.`
            : 'no plugin is registered there (list them: plugboard plugins).'
        }`,
      );
    }
    // The run names the marked stage first: a stage that starts later looks for its marks only then.
    const announced = await deps.store.transitionRun(
      run,
      [STATES.inProgress],
      { mark: stageMarkOf(key) },
      { generation: run.generation },
    );
    if (!announced.applied) {
      throw new ValidationError(`Run "${key.uid}" changed meanwhile; look at the run again.`);
    }
    const settings = deps.config?.activities[key.activity] ?? DEFAULT_ACTIVITY_SETTINGS;
    await deps.store.putPluginsIfAbsent([
      {
        ...key,
        generation: run.generation,
        state: STATES.doNotRun,
        mandatory: isMandatoryFor(registration.info, key.activity),
        order: registration.info.order,
        attempt: 0,
        maxAttempts: registration.info.maxAttempts ?? settings.maxAttempts,
        deadlineSeconds: registration.info.deadlineSeconds ?? settings.deadlineSeconds,
        message: OPERATOR_SKIP_MESSAGE,
        updatedAt: now,
        stateTimes: { [STATES.doNotRun]: now },
      },
    ]);
    const stored = await deps.store.getPlugin(key);
    if (stored?.generation === run.generation && stored.state === STATES.doNotRun) return 'skipped';
    throw new ValidationError(
      `Plugin "${key.plugin}" was dispatched meanwhile; it can no longer be skipped.`,
    );
  }
  // Skipped already (a repeated skip, e.g. after an answer was lost): nothing more to do.
  if (existing.state === STATES.doNotRun) return 'skipped';
  if (existing.state !== STATES.notStarted) {
    throw new ValidationError(
      `Plugin "${key.plugin}" is ${existing.state}; only a plugin that has not started can be skipped.`,
    );
  }
  const { applied } = await deps.store.recordFinalOutcomes({ ...key, generation: existing.generation }, [
    {
      key,
      generation: existing.generation,
      from: [STATES.notStarted],
      attempt: existing.attempt,
      countDown: existing.mandatory ? 'mandatory' : 'optional',
      patch: { state: STATES.doNotRun, message: OPERATOR_SKIP_MESSAGE, deadline: null },
    },
  ]);
  if (applied.length === 0) {
    throw new ValidationError(`Plugin "${key.plugin}" changed meanwhile; look at the run again.`);
  }
  // Nudge the stage: it may now dispatch its next plugin or be complete.
  await deps.commands.send({
    schemaVersion: 1,
    kind: 'start-stage',
    workflow: key.workflow,
    uid: key.uid,
    generation: existing.generation,
    activity: key.activity,
    stage: key.stage,
  });
  return 'skipped';
}
