/**
 * What the metrics report reads from the status table, when it is given one: metrics count runs but
 * cannot name them. The active runs now (the liveness metric is only as fresh as its last check, and
 * says "4 active" for a minute after the 4 runs ended), and the runs that failed in the report's range,
 * by uid, with where and why.
 */
import type { StatusStore } from '../lambdas/engine/ports.js';
import type { RunRecord } from '../lambdas/engine/records.js';
import { escapeHtml } from './svg-chart.js';

/** The two listings of the status store the report uses (DynamoStatusStore implements them). */
export type ReportRunSource = Pick<StatusStore, 'listRuns' | 'listActiveRuns'>;

/** Pages read per workflow at most, for either listing (a report is a summary, not an export). */
const MAX_PAGES = 20;
const PAGE_SIZE = 500;

/** Runs of the configured workflows that are In Progress now (the sparse `active` index). */
export async function countActiveRuns(
  source: ReportRunSource,
  workflows: readonly string[],
): Promise<number> {
  let count = 0;
  for (const workflow of workflows) {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const result = await source.listActiveRuns(workflow, {
        limit: PAGE_SIZE,
        ...(nextToken ? { nextToken } : {}),
      });
      count += result.runs.length;
      nextToken = result.nextToken;
      if (!nextToken) break;
    }
  }
  return count;
}

/** A failed run, as the report names it. */
export interface FailedRun {
  readonly workflow: string;
  readonly uid: string;
  readonly generation: number;
  readonly endedAt?: string;
  /** `activity/stage` where it failed. */
  readonly where?: string;
  readonly message?: string;
}

/**
 * The runs (newest first, at most `limit`) that ended in Error between `from` and `to`: the `runs`
 * index is read newest first until runs created before the range (a run created earlier but failed
 * within it is included while its page is read).
 */
export async function failedRunsInRange(
  source: ReportRunSource,
  workflows: readonly string[],
  range: { readonly from: number; readonly to: number },
  limit = 20,
): Promise<FailedRun[]> {
  const failed: RunRecord[] = [];
  for (const workflow of workflows) {
    let nextToken: string | undefined;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const result = await source.listRuns(workflow, {
        limit: PAGE_SIZE,
        ...(nextToken ? { nextToken } : {}),
      });
      for (const run of result.runs) {
        const ended = run.endedAt === undefined ? Number.NaN : Date.parse(run.endedAt);
        if (run.state === 'Error' && ended >= range.from && ended <= range.to) failed.push(run);
      }
      const oldest = result.runs.at(-1);
      nextToken = result.nextToken;
      if (!nextToken || (oldest && Date.parse(oldest.createdAt) < range.from)) break;
    }
  }
  return failed
    .sort((a, b) => (b.endedAt ?? '').localeCompare(a.endedAt ?? ''))
    .slice(0, limit)
    .map((run) => ({
      workflow: run.workflow,
      uid: run.uid,
      generation: run.generation,
      ...(run.endedAt ? { endedAt: run.endedAt } : {}),
      // The run names the activity it failed in; its message names the stage and plugin.
      ...(run.position ? { where: run.position.activity } : {}),
      ...(run.message ? { message: run.message } : {}),
    }));
}

/** The failed runs as a table, each with the CLI command that shows it. */
export function failedRunsTable(runs: readonly FailedRun[], deploymentStage: string): string {
  if (runs.length === 0) return '<p class="nodata">No run failed in this time range.</p>';
  const rows = runs.map(
    (run) =>
      `<tr class="failed-run"><td>${escapeHtml(run.workflow)}</td><td><code>${escapeHtml(run.uid)}</code></td><td>${run.generation}</td><td>${escapeHtml(run.endedAt ? `${run.endedAt.replace('T', ' ').slice(0, 19)} UTC` : '-')}</td><td>${escapeHtml(run.where ?? '-')}</td><td>${escapeHtml(run.message ?? '')}</td><td><code>${escapeHtml(`npx plugboard --stage ${deploymentStage} status ${run.workflow} ${run.uid}`)}</code></td></tr>`,
  );
  return `<table class="runs"><thead><tr><th>workflow</th><th>uid</th><th>gen</th><th>ended</th><th>where</th><th>why</th><th>inspect</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}
