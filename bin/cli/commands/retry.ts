/** `plugboard retry <workflow> <uid>`: reruns the failed, timed-out and unfinished plugins of a finished run. */
import { STAGE_NAMES, STATES } from '../../../lambdas/contracts/index.js';
import type { RunSnapshot } from '../../../lambdas/engine/records.js';
import { operateViaApi } from '../api-runs.js';
import { hintCommand } from '../context.js';
import type { Deployment } from '../deployment.js';
import { CliError, EXIT } from '../errors.js';
import type { Registrar } from '../main.js';
import { paint } from '../output.js';
import { invokeStart, refusedStart } from '../start-function.js';
import { readSnapshot } from './status.js';

/** What a rerun keeps of a plugin's last record: a completed or skipped plugin does not run again. */
const KEPT = new Set<string>([STATES.complete, STATES.doNotRun]);

export interface RerunPlan {
  /** `activity/stage/plugin` of every plugin that will run again, in workflow order. */
  readonly again: string[];
  /** Those of `again` that have a filter policy and were never planned: they run only if it lets them. */
  readonly filtered: string[];
}

/**
 * The plugins a rerun of `snapshot` runs again: every plugin registered for a stage of the run's
 * activities whose last record is not Complete or Do Not Run, including those of stages the run never
 * reached (a run cancelled before any plugin ran runs all of them). A plugin its filter policy kept
 * out last time has the same metadata again, so it stays out.
 */
export async function rerunPlan(deployment: Deployment, snapshot: RunSnapshot): Promise<RerunPlan> {
  const records = new Map(snapshot.plugins.map((p) => [`${p.activity}/${p.stage}/${p.plugin}`, p]));
  const again: string[] = [];
  const filtered: string[] = [];
  for (const activity of snapshot.run.activities) {
    for (const stage of STAGE_NAMES) {
      const registrations = [...(await deployment.registry.list(activity, stage))].sort(
        (a, b) => a.info.order - b.info.order || a.info.name.localeCompare(b.info.name),
      );
      for (const registration of registrations) {
        const path = `${activity}/${stage}/${registration.info.name}`;
        const record = records.get(path);
        if (record && KEPT.has(record.state)) continue;
        again.push(path);
        const hasPolicy = Object.keys(registration.filterPolicy ?? {}).length > 0;
        if (hasPolicy && !record) filtered.push(path);
      }
    }
  }
  return { again, filtered };
}

export function registerRetry({ program, run }: Registrar): void {
  program
    .command('retry')
    .description(
      'Rerun a failed or cancelled run (a new generation). Plugins that completed or were skipped are kept; only the failed, timed-out and never-run plugins run again.',
    )
    .argument('<workflow>', 'workflow name')
    .argument('<uid>', 'the run uid')
    .addHelpText(
      'after',
      `
The run keeps its metadata. A run still in progress cannot be retried (cancel it first, or let its
retries play out); a complete run has nothing to retry. The plugins that will run again are named
before they do: those that failed or timed out, and those of stages the run had not reached.

Example:
  $ npx plugboard retry order order-1234
  Rerunning order/order-1234 (generation 2): will run again fulfilment/parallel/charge-card
  Watch it:  npx plugboard watch order order-1234`,
    )
    .action(
      run<Record<string, never>>(async (ctx, [workflow = '', uid = '']) => {
        const api = ctx.api();
        if (api !== undefined) {
          // The API refuses a run in progress or complete (409) with the same reasons as below.
          const rerun = await operateViaApi(await api, workflow, uid, ['retry']);
          if (ctx.out.json) {
            ctx.out.data({ ok: true, action: 'retry', run: rerun });
            return EXIT.ok;
          }
          ctx.out.line(
            `${paint(ctx.out.color, 'green', `Rerunning ${workflow}/${uid}`)} (generation ${rerun.generation}): its failed, timed-out and unreached plugins run again`,
          );
          ctx.out.line(`Watch it:  ${hintCommand(ctx.options, `watch ${workflow} ${uid}`)}`);
          return EXIT.ok;
        }
        const snapshot = await readSnapshot(ctx, workflow, uid);
        const { run: current } = snapshot;
        if (current.state === STATES.inProgress) {
          throw new CliError(
            `Run "${uid}" is still In Progress; nothing to retry yet. Watch it (${hintCommand(ctx.options, `watch ${workflow} ${uid}`)}) or cancel it first.`,
          );
        }
        if (current.state === STATES.complete) {
          throw new CliError(`Run "${uid}" is Complete; nothing failed, so there is nothing to retry.`);
        }
        const deployment = await ctx.deployment();
        const plan = await rerunPlan(deployment, snapshot);
        const answer = await invokeStart(deployment, {
          workflow,
          uid,
          metadata: current.metadata,
          rerun: true,
        });
        if (!answer.ok) return refusedStart(ctx.out, answer);
        if (ctx.out.json) {
          ctx.out.data({ ...answer, rerunPlugins: plan.again, ifFilterPolicyMatches: plan.filtered });
          return EXIT.ok;
        }
        const conditional = new Set(plan.filtered);
        const names = plan.again.map((p) => (conditional.has(p) ? `${p} (if its filter policy matches)` : p));
        ctx.out.line(
          `${paint(ctx.out.color, 'green', `Rerunning ${workflow}/${uid}`)} (generation ${answer.run.generation})${names.length ? `: will run again ${names.join(', ')}` : ': no registered plugin is left to run'}`,
        );
        ctx.out.line(`Watch it:  ${hintCommand(ctx.options, `watch ${workflow} ${uid}`)}`);
        return EXIT.ok;
      }),
    );
}
