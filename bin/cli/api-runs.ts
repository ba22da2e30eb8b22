/**
 * The CLI's commands through the HTTP API (`--api`): each one request (a listing, one per page), the
 * answer checked with the API's schemas and shaped as the direct path shapes it, so `status`, `watch`
 * and `list` print the same tree and table whichever way the CLI reached the deployment.
 */

import type { PluginView, RunSummary, RunTree } from '../../lambdas/api/schemas.js';
import {
  operatorResultSchema,
  runPageSchema,
  runSummarySchema,
  runTreeSchema,
  workflowListSchema,
} from '../../lambdas/api/schemas.js';
import {
  PLUGIN_STATES,
  type PluginState,
  RUN_STATES,
  type RunState,
  STAGE_STATES,
  STATES,
  type StageState,
} from '../../lambdas/contracts/index.js';
import type {
  AttemptRecord,
  PluginRecord,
  RunRecord,
  RunSnapshot,
  StageRecord,
  StateTimes,
} from '../../lambdas/engine/records.js';
import { ApiClient } from './api-client.js';
import { UsageError } from './errors.js';

const run = (workflow: string, uid: string, ...rest: string[]) =>
  ApiClient.path('workflows', workflow, 'runs', uid, ...rest);

/** State times of `states` only (the API's are keyed by any string). */
function timesOf<S extends string>(
  times: Readonly<Record<string, string>>,
  states: readonly S[],
): StateTimes<S> {
  const kept: Partial<Record<S, string>> = {};
  for (const state of states) {
    const at = times[state];
    if (at !== undefined) kept[state] = at;
  }
  return kept;
}

/** The run record of an API run summary. */
export function runOfSummary(summary: RunSummary): RunRecord {
  return {
    workflow: summary.workflow,
    uid: summary.uid,
    state: summary.state,
    generation: summary.generation,
    activities: [...summary.activities],
    metadata: { ...summary.metadata },
    createdAt: summary.createdAt,
    updatedAt: summary.updatedAt,
    ...(summary.endedAt !== undefined ? { endedAt: summary.endedAt } : {}),
    ...(summary.message !== undefined ? { message: summary.message } : {}),
    ...(summary.position !== undefined ? { position: { ...summary.position } } : {}),
    stateTimes: timesOf<RunState>(summary.stateTimes, RUN_STATES),
  };
}

function pluginOfView(
  view: PluginView,
  at: { workflow: string; uid: string; activity: string; stage: StageRecord['stage']; generation: number },
): PluginRecord {
  // The API lists every attempt, the current one last; the record keeps the earlier ones as history.
  const last = view.attempts[view.attempts.length - 1];
  const earlier =
    last !== undefined && last.attempt === view.attempt ? view.attempts.slice(0, -1) : view.attempts;
  const history: AttemptRecord[] = earlier.flatMap((a) =>
    a.endedAt === undefined
      ? []
      : [
          {
            attempt: a.attempt,
            outcome: a.outcome,
            endedAt: a.endedAt,
            ...(a.startedAt !== undefined ? { startedAt: a.startedAt } : {}),
            ...(a.message !== undefined ? { message: a.message } : {}),
            ...(a.errorCode !== undefined ? { errorCode: a.errorCode } : {}),
          },
        ],
  );
  return {
    ...at,
    plugin: view.plugin,
    state: view.state,
    mandatory: view.mandatory,
    order: view.order,
    attempt: view.attempt,
    maxAttempts: view.maxAttempts,
    // Not in the API's view; nothing the CLI prints reads it.
    deadlineSeconds: 0,
    ...(view.deadline !== undefined ? { deadline: view.deadline } : {}),
    ...(view.message !== undefined ? { message: view.message } : {}),
    ...(view.errorCode !== undefined ? { errorCode: view.errorCode } : {}),
    ...(view.result !== undefined ? { result: view.result } : {}),
    ...(view.lateReports !== undefined ? { lateReports: view.lateReports } : {}),
    ...(history.length > 0 ? { history } : {}),
    updatedAt: view.updatedAt,
    stateTimes: timesOf<PluginState>(view.stateTimes, PLUGIN_STATES),
  };
}

/** The snapshot the CLI renders, from the API's run tree (stages not reached have no record). */
export function snapshotOfTree(tree: RunTree): RunSnapshot {
  const record = runOfSummary(tree);
  const stages: StageRecord[] = [];
  const plugins: PluginRecord[] = [];
  for (const { activity, stages: views } of tree.tree) {
    for (const view of views) {
      const at = {
        workflow: tree.workflow,
        uid: tree.uid,
        activity,
        stage: view.stage,
        generation: tree.generation,
      };
      plugins.push(...view.plugins.map((p) => pluginOfView(p, at)));
      if (view.state === 'Not Reached') continue;
      stages.push({
        ...at,
        state: view.state,
        mode: view.mode ?? 'parallel',
        mandatoryPending: 0,
        optionalPending: 0,
        createdAt: view.createdAt ?? tree.createdAt,
        updatedAt: view.updatedAt ?? tree.updatedAt,
        ...(view.message !== undefined ? { message: view.message } : {}),
        stateTimes: timesOf<StageState>(view.stateTimes, STAGE_STATES),
      });
    }
  }
  return { run: record, stages, plugins };
}

/** `GET /workflows/{workflow}/runs/{uid}`: the run and its tree. */
export async function readRunViaApi(api: ApiClient, workflow: string, uid: string): Promise<RunTree> {
  return (await api.request('GET', run(workflow, uid), runTreeSchema)).body;
}

export interface ApiStartAnswer {
  readonly ok: true;
  readonly outcome: 'started' | 'existing' | 'rerun';
  readonly run: RunSummary;
}

/**
 * A start (`POST /workflows/{workflow}/runs`: 201 started, 200 the same run again) or, with `rerun`,
 * `POST …/rerun` (the run's metadata, or new metadata with `metadataOverride`).
 */
export async function startViaApi(
  api: ApiClient,
  request: {
    readonly workflow: string;
    readonly uid: string;
    readonly metadata?: Record<string, unknown>;
    readonly rerun?: boolean;
    readonly metadataOverride?: boolean;
  },
): Promise<ApiStartAnswer> {
  if (request.rerun) {
    const answer = await api.request(
      'POST',
      run(request.workflow, request.uid, 'rerun'),
      operatorResultSchema,
      {
        body: {
          ...(request.metadata !== undefined ? { metadata: request.metadata } : {}),
          metadataOverride: request.metadataOverride === true,
        },
      },
    );
    return { ok: true, outcome: 'rerun', run: answer.body.run };
  }
  if (request.metadataOverride) {
    throw new UsageError('--metadata-override goes with --rerun.');
  }
  const answer = await api.request(
    'POST',
    ApiClient.path('workflows', request.workflow, 'runs'),
    runSummarySchema,
    { body: { uid: request.uid, metadata: request.metadata ?? {} } },
  );
  return { ok: true, outcome: answer.status === 201 ? 'started' : 'existing', run: answer.body };
}

/** An operator action on a run (`POST …/cancel`, `…/retry`, `…/plugins/{activity}/{stage}/{plugin}/skip`). */
export async function operateViaApi(
  api: ApiClient,
  workflow: string,
  uid: string,
  action: readonly string[],
  body?: Record<string, unknown>,
): Promise<RunSummary> {
  const answer = await api.request('POST', run(workflow, uid, ...action), operatorResultSchema, {
    ...(body !== undefined ? { body } : {}),
  });
  return answer.body.run;
}

/** The CLI's `--state` values the API can filter by, as the run states it takes. */
const API_LIST_STATES: Readonly<Record<string, RunState>> = {
  active: STATES.inProgress,
  failed: STATES.error,
  complete: STATES.complete,
  cancelled: STATES.cancelled,
};

/** The workflows the API declares (`GET /workflows`). */
export async function workflowsViaApi(api: ApiClient): Promise<string[]> {
  return (await api.request('GET', '/workflows', workflowListSchema)).body.workflows.map((w) => w.name);
}

/**
 * One page of runs of each workflow (`GET /workflows/{workflow}/runs`), newest first; the cursor
 * continues the listing of one workflow.
 */
export async function listViaApi(
  api: ApiClient,
  options: {
    readonly workflows: readonly string[];
    readonly state?: string;
    readonly since?: string;
    readonly limit: number;
    readonly cursor?: string;
  },
): Promise<{ runs: RunRecord[]; nextCursor?: string }> {
  let state: RunState | undefined;
  if (options.state !== undefined) {
    state = API_LIST_STATES[options.state];
    if (state === undefined) {
      throw new UsageError(
        `--state ${options.state} is not available through the API (liveness is read from metrics by the direct path): use ${Object.keys(API_LIST_STATES).join(', ')}, or drop --api.`,
      );
    }
  }
  if (options.limit > 100) {
    throw new UsageError(`--limit ${options.limit}: the API lists at most 100 runs per page.`);
  }
  const query = {
    limit: String(options.limit),
    ...(state !== undefined ? { state } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
    ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
  };
  const pages = await Promise.all(
    options.workflows.map((workflow) =>
      api.request('GET', ApiClient.path('workflows', workflow, 'runs'), runPageSchema, { query }),
    ),
  );
  const runs = pages
    .flatMap((p) => p.body.runs.map(runOfSummary))
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    .slice(0, options.limit);
  const [only] = pages;
  const nextCursor = pages.length === 1 ? only?.body.nextCursor : undefined;
  return nextCursor !== undefined ? { runs, nextCursor } : { runs };
}
