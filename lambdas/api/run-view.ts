/**
 * What the API answers for a run: its summary (the run record without internals) and its status
 * tree, activity by activity and stage by stage, every component with the time it entered each
 * state. Stages the run has not reached are listed as `Not Reached`, so the tree always has the
 * workflow's shape.
 */
import { STAGE_NAMES } from '../contracts/index.js';
import {
  attemptsOf,
  type PluginRecord,
  type RunRecord,
  type RunSnapshot,
  type StageRecord,
} from '../engine/records.js';
import type { PluginView, RunSummary, RunTree, StageView } from './schemas.js';

export function runSummary(run: RunRecord): RunSummary {
  return {
    workflow: run.workflow,
    uid: run.uid,
    state: run.state,
    generation: run.generation,
    activities: [...run.activities],
    metadata: { ...run.metadata },
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    ...(run.endedAt !== undefined ? { endedAt: run.endedAt } : {}),
    ...(run.message !== undefined ? { message: run.message } : {}),
    ...(run.position !== undefined ? { position: { ...run.position } } : {}),
    stateTimes: { ...run.stateTimes },
  };
}

function pluginView(plugin: PluginRecord): PluginView {
  return {
    plugin: plugin.plugin,
    state: plugin.state,
    mandatory: plugin.mandatory,
    order: plugin.order,
    attempt: plugin.attempt,
    maxAttempts: plugin.maxAttempts,
    ...(plugin.deadline !== undefined ? { deadline: plugin.deadline } : {}),
    ...(plugin.message !== undefined ? { message: plugin.message } : {}),
    ...(plugin.errorCode !== undefined ? { errorCode: plugin.errorCode } : {}),
    ...(plugin.result !== undefined ? { result: plugin.result } : {}),
    ...(plugin.lateReports !== undefined ? { lateReports: plugin.lateReports } : {}),
    attempts: attemptsOf(plugin).map((attempt) => ({ ...attempt })),
    updatedAt: plugin.updatedAt,
    stateTimes: { ...plugin.stateTimes },
  };
}

function stageView(
  stage: StageRecord | undefined,
  name: StageView['stage'],
  plugins: PluginRecord[],
): StageView {
  const ordered = plugins
    .sort((a, b) => a.order - b.order || a.plugin.localeCompare(b.plugin))
    .map(pluginView);
  if (stage === undefined) return { stage: name, state: 'Not Reached', stateTimes: {}, plugins: ordered };
  return {
    stage: name,
    state: stage.state,
    mode: stage.mode,
    ...(stage.message !== undefined ? { message: stage.message } : {}),
    createdAt: stage.createdAt,
    updatedAt: stage.updatedAt,
    stateTimes: { ...stage.stateTimes },
    plugins: ordered,
  };
}

/** The run with its tree. Records of older generations are shown only where nothing newer exists. */
export function runTree(snapshot: RunSnapshot): RunTree {
  const { run } = snapshot;
  return {
    ...runSummary(run),
    tree: run.activities.map((activity) => ({
      activity,
      stages: STAGE_NAMES.map((name) =>
        stageView(
          snapshot.stages.find((s) => s.activity === activity && s.stage === name),
          name,
          snapshot.plugins.filter((p) => p.activity === activity && p.stage === name),
        ),
      ),
    })),
  };
}
