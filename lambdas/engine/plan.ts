/**
 * Planning a stage at dispatch: which plugins it awaits (registry, filter policies, operator skips,
 * a rerun's kept plugins), the records they start with, and the message that dispatches them.
 */
import { isMandatoryFor, type PluginMessage, type Registration, STATES } from '../contracts/index.js';
import { buildMessageAttributes } from './attributes.js';
import { activitySettings } from './config.js';
import type { EngineDeps } from './deps.js';
import {
  NARROW_STAGE_MAX,
  type PluginRecord,
  type RunRecord,
  type StageKey,
  type StageRecord,
} from './records.js';
import {
  AWAITED,
  byOrderThenName,
  deadlineFrom,
  FILTERED_OUT_MESSAGE,
  OPERATOR_SKIP_MESSAGE,
  pluginKeyOf,
} from './stage-common.js';

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
    // A narrow stage holds its plugins' records: one item, one write per batch of reports (ADR 0007).
    ...(records.size <= NARROW_STAGE_MAX ? { holdsPlugins: true } : {}),
    ...(nothingAwaited ? { message: 'no plugin to wait for' } : {}),
    createdAt: nowIso,
    updatedAt: nowIso,
    stateTimes: { [state]: nowIso },
  };
  // Records kept inside the stage say so: the store then writes them there.
  const planned = stage.holdsPlugins
    ? [...records.values()].map((record): PluginRecord => ({ ...record, inStage: true }))
    : [...records.values()];
  return { stage, toWrite: stage.holdsPlugins ? [] : toWrite, records: planned };
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
