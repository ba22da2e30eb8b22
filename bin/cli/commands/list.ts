/**
 * `plugboard list`: runs, newest first, paginated. Active, inactive and stuck runs come from the
 * sparse `active` index (never a scan); the others from the `runs` index, filtered by state.
 */
import { STAGE_NAMES, STATES } from '../../../lambdas/contracts/index.js';
import type { ActiveRunPage } from '../../../lambdas/engine/ports.js';
import { currentStageOf, type RunRecord } from '../../../lambdas/engine/records.js';
import { listViaApi, workflowsViaApi } from '../api-runs.js';
import { hintCommand } from '../context.js';
import type { Deployment } from '../deployment.js';
import { EXIT, UsageError } from '../errors.js';
import { elapsed, formatDuration, formatState, formatTime, runLiveness, truncate } from '../format.js';
import type { Registrar } from '../main.js';
import { paint, table } from '../output.js';
import { parsePositiveInt, parseSince } from '../parse.js';
import { configuredWorkflows } from '../workflows.js';

export const LIST_STATES = ['active', 'inactive', 'stuck', 'failed', 'complete', 'cancelled'] as const;
export type ListState = (typeof LIST_STATES)[number];

/** Index pages read for one listing at most; then the next token continues where it stopped. */
const MAX_PAGES = 50;

interface ListOptions {
  readonly workflow?: string;
  readonly state?: string;
  readonly since?: string;
  readonly limit: string;
  readonly nextToken?: string;
}

export interface ListedRun extends RunRecord {
  /** Active runs only: the metrics stack's liveness (progressing, inactive, stuck). */
  readonly liveness?: string;
  readonly minutesWithoutProgress?: number;
}

const FINAL_STATE: Partial<Record<ListState, string>> = {
  failed: STATES.error,
  complete: STATES.complete,
  cancelled: STATES.cancelled,
};

async function annotate(deployment: Deployment, run: RunRecord, now: Date): Promise<ListedRun> {
  if (run.state !== STATES.inProgress) return run;
  // The run names its activity; the stage it is at is the last one of that activity it entered.
  const activity = run.position?.activity;
  const stages =
    activity === undefined
      ? []
      : (
          await Promise.all(
            STAGE_NAMES.map((stage) => deployment.store.getStage({ ...run, activity, stage })),
          )
        ).filter((s) => s !== undefined);
  const stage = currentStageOf(run, stages);
  const live = runLiveness(run, stage, now);
  return {
    ...run,
    ...(stage ? { position: { activity: stage.activity, stage: stage.stage } } : {}),
    liveness: live.liveness,
    minutesWithoutProgress: live.minutesWithoutProgress,
  };
}

/** Collects up to `limit` matching runs of one workflow, whole index pages at a time. */
export async function collectRuns(
  deployment: Deployment,
  workflow: string,
  options: { state?: ListState; since?: string; limit: number; nextToken?: string; now: Date },
): Promise<{ runs: ListedRun[]; nextToken?: string }> {
  const { state, since, limit, now } = options;
  const fromActive = state === 'active' || state === 'inactive' || state === 'stuck';
  const source = (o: { limit: number; nextToken?: string }): Promise<ActiveRunPage> =>
    fromActive ? deployment.store.listActiveRuns(workflow, o) : deployment.store.listRuns(workflow, o);
  const runs: ListedRun[] = [];
  let token = options.nextToken;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const result = await source({ limit: limit - runs.length, ...(token ? { nextToken: token } : {}) });
    for (const run of result.runs) {
      if (since !== undefined && run.createdAt < since) return { runs };
      const wanted = state && FINAL_STATE[state];
      if (wanted && run.state !== wanted) continue;
      const listed = await annotate(deployment, run, now);
      if ((state === 'inactive' || state === 'stuck') && listed.liveness !== state) continue;
      runs.push(listed);
    }
    token = result.nextToken;
    if (!token || runs.length >= limit) break;
  }
  return token ? { runs, nextToken: token } : { runs };
}

export function registerList({ program, run }: Registrar): void {
  program
    .command('list')
    .description('List runs, newest first.')
    .option('--workflow <name>', 'one workflow (default: every workflow of plugboard.config.ts)')
    .option('--state <state>', `only runs that are ${LIST_STATES.join(' | ')}`)
    .option('--since <iso|duration>', 'only runs created since then (2026-11-23T08:00:00Z, or 2h, 7d)')
    .option('--limit <n>', 'runs per page (1-1000)', '20')
    .option('--next-token <token>', 'continue a previous listing (with --workflow)')
    .addHelpText(
      'after',
      `
Inactive = no progress for 10 minutes, stuck = 20 minutes (the metrics stack's rule); "failed" is Error.

Example:
  $ npx plugboard list --workflow order --state active
  WORKFLOW  UID         STATE        GEN  CREATED              AGE     POSITION             LIVENESS
  order     order-1235  In Progress  1    2026-11-23 10:02:11  41.2s   fulfilment/parallel  progressing`,
    )
    .action(
      run<ListOptions>(async (ctx, _args, options) => {
        if (options.state !== undefined && !(LIST_STATES as readonly string[]).includes(options.state)) {
          throw new UsageError(`--state "${options.state}" is not one of ${LIST_STATES.join(', ')}.`);
        }
        const state = options.state as ListState | undefined;
        const limit = parsePositiveInt(options.limit, '--limit', 1000);
        const now = ctx.now();
        const since = options.since === undefined ? undefined : parseSince(options.since, now);
        if (options.nextToken !== undefined && options.workflow === undefined) {
          throw new UsageError('--next-token continues the listing of one workflow: pass --workflow too.');
        }
        const api = ctx.api();
        const workflows = options.workflow
          ? [options.workflow]
          : api
            ? await workflowsViaApi(await api)
            : await configuredWorkflows(ctx);
        let runs: ListedRun[] = [];
        let nextToken: string | undefined;
        if (api !== undefined) {
          // Through the API: one page per workflow from its listing (GET /workflows/{w}/runs).
          const page = await listViaApi(await api, {
            workflows,
            limit,
            ...(state ? { state } : {}),
            ...(since ? { since } : {}),
            ...(options.nextToken ? { cursor: options.nextToken } : {}),
          });
          runs = page.runs;
          nextToken = page.nextCursor;
        } else {
          const deployment = await ctx.deployment();
          for (const workflow of workflows) {
            const page = await collectRuns(deployment, workflow, {
              limit,
              now,
              ...(state ? { state } : {}),
              ...(since ? { since } : {}),
              ...(options.nextToken ? { nextToken: options.nextToken } : {}),
            });
            runs.push(...page.runs);
            if (workflows.length === 1) nextToken = page.nextToken;
          }
        }
        if (workflows.length > 1) {
          runs = runs.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).slice(0, limit);
        }
        if (ctx.out.json) {
          ctx.out.data(nextToken ? { runs, nextToken } : { runs });
          return EXIT.ok;
        }
        if (runs.length === 0) {
          ctx.out.line(
            `No runs${state ? ` that are ${state}` : ''}${since ? ` since ${formatTime(since)}` : ''} in ${workflows.join(', ')}.`,
          );
        } else {
          const showLiveness = runs.some((r) => r.liveness !== undefined);
          const rows = [
            [
              'WORKFLOW',
              'UID',
              'STATE',
              'GEN',
              'CREATED (UTC)',
              'DURATION',
              'POSITION',
              ...(showLiveness ? ['LIVENESS'] : []),
              'MESSAGE',
            ],
            ...runs.map((r) => [
              r.workflow,
              r.uid,
              formatState(r.state, ctx.out.color),
              String(r.generation),
              formatTime(r.createdAt, false),
              formatDuration(elapsed(r.createdAt, r.endedAt, now) ?? Number.NaN),
              r.position ? `${r.position.activity}/${r.position.stage}` : '-',
              ...(showLiveness
                ? [
                    r.liveness === undefined
                      ? ''
                      : paint(
                          ctx.out.color,
                          r.liveness === 'stuck' ? 'red' : r.liveness === 'inactive' ? 'yellow' : 'green',
                          r.liveness,
                        ),
                  ]
                : []),
              r.message ? truncate(r.message, 60) : '',
            ]),
          ];
          for (const line of table(rows)) ctx.out.line(line);
        }
        if (nextToken) {
          ctx.out.line('');
          ctx.out.line(
            `More: ${hintCommand(ctx.options, `list --workflow ${workflows[0]}${state ? ` --state ${state}` : ''}${options.since ? ` --since ${since}` : ''} --limit ${limit} --next-token ${nextToken}`)}`,
          );
        }
        return EXIT.ok;
      }),
    );
}
