/**
 * Starting a run: idempotent by (workflow, uid); an explicit rerun starts a new generation that keeps
 * completed plugins and runs the others again.
 */
import { isDeepStrictEqual } from 'node:util';
import { isFinalRunState, STATES, type StartRequest } from '../contracts/index.js';
import type { EngineDeps } from './deps.js';
import { MetadataMismatchError, UnknownWorkflowError } from './errors.js';
import { lifecycleEvent } from './events.js';
import { type EnterOptions, enterStage } from './progress.js';
import type { RunRecord } from './records.js';

export type StartOutcome =
  /** A new run was created and its first stage entered. */
  | { readonly outcome: 'started'; readonly run: RunRecord }
  /** A run with this uid exists; nothing new was started. */
  | { readonly outcome: 'existing'; readonly run: RunRecord }
  /** A finished run was started again as a new generation. */
  | { readonly outcome: 'rerun'; readonly run: RunRecord };

export async function startRun(deps: EngineDeps, request: StartRequest): Promise<StartOutcome> {
  const activities = deps.config.workflows[request.workflow];
  if (!activities) throw new UnknownWorkflowError(request.workflow, Object.keys(deps.config.workflows));
  const now = deps.clock.now().toISOString();
  const fresh: RunRecord = {
    workflow: request.workflow,
    uid: request.uid,
    state: STATES.inProgress,
    generation: 1,
    activities,
    metadata: request.metadata,
    createdAt: now,
    updatedAt: now,
    stateTimes: { [STATES.inProgress]: now },
  };
  const { created, run } = await deps.store.createRunIfAbsent(fresh);
  if (created) {
    await deps.events.publish(lifecycleEvent('run.started', run, now));
    await enterFirstStage(deps, run, { lookFirst: false, repair: false });
    deps.observer?.runStarted?.({ workflow: run.workflow, uid: run.uid, rerun: false });
    return { outcome: 'started', run };
  }
  if (!request.rerun || !isFinalRunState(run.state)) {
    // An earlier start may have crashed after creating the run and before announcing it or requesting
    // its first stage: repeat both (the event has a stable id; the command is idempotent).
    if (run.state === STATES.inProgress && run.position === undefined) {
      await deps.events.publish(
        lifecycleEvent(
          run.generation > 1 ? 'run.rerun' : 'run.started',
          run,
          run.generation > 1 ? run.updatedAt : run.createdAt,
        ),
      );
      await enterFirstStage(deps, run, { lookFirst: true, repair: true });
    }
    return { outcome: 'existing', run };
  }
  return rerun(deps, request, run, now);
}

async function rerun(
  deps: EngineDeps,
  request: StartRequest,
  run: RunRecord,
  now: string,
): Promise<StartOutcome> {
  const metadataGiven = Object.keys(request.metadata).length > 0;
  if (metadataGiven && !request.metadataOverride && !isDeepStrictEqual(request.metadata, run.metadata)) {
    throw new MetadataMismatchError(run.workflow, run.uid);
  }
  const moved = await deps.store.transitionRun(
    run,
    [STATES.complete, STATES.error, STATES.cancelled],
    {
      state: STATES.inProgress,
      generation: run.generation + 1,
      message: null,
      endedAt: null,
      position: null,
      ...(metadataGiven ? { metadata: request.metadata } : {}),
    },
    { generation: run.generation },
  );
  if (!moved.applied) {
    // Another start won the race (or the run is already running again): report what is there.
    const current = moved.current ?? run;
    return { outcome: 'existing', run: current };
  }
  const restarted = moved.record;
  await deps.events.publish(lifecycleEvent('run.rerun', restarted, now));
  await enterFirstStage(deps, restarted, { lookFirst: false, repair: false });
  deps.observer?.runStarted?.({ workflow: restarted.workflow, uid: restarted.uid, rerun: true });
  return { outcome: 'rerun', run: restarted };
}

/** The run's first stage, entered inline: created `In Progress` and dispatched by the start itself. */
async function enterFirstStage(
  deps: EngineDeps,
  run: RunRecord,
  options: Pick<EnterOptions, 'lookFirst' | 'repair'>,
): Promise<void> {
  const activity = run.activities[0];
  if (activity === undefined) return;
  await enterStage(deps, run, { workflow: run.workflow, uid: run.uid, activity, stage: 'pre' }, options);
}
