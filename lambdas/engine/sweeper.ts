/**
 * The deadline sweeper: finds plugins past their deadline through the active-runs index (no scans)
 * and sends a timeout command to their stage's inbox. The stage orchestrator decides what the timeout
 * means (retry or fail); a timeout for an attempt that has since reported is ignored there.
 */
import type { EngineDeps } from './deps.js';

export interface SweepResult {
  readonly runsChecked: number;
  readonly timeoutsSent: number;
}

/**
 * A timeout already sent for an attempt is sent again only after this long: the first one may be
 * waiting in a backlogged inbox, or its handling may have failed and wait for its visibility timeout.
 * Short enough that an attempt is still settled well within its deadline + 60 s.
 */
export const TIMEOUT_RESEND_SECONDS = 30;

export async function sweepDeadlines(
  deps: Pick<EngineDeps, 'store' | 'commands' | 'clock' | 'config'>,
  options: { readonly pageSize?: number } = {},
): Promise<SweepResult> {
  const at = deps.clock.now();
  const now = at.toISOString();
  const resendAfter = new Date(at.getTime() - TIMEOUT_RESEND_SECONDS * 1000).toISOString();
  let runsChecked = 0;
  let timeoutsSent = 0;
  for (const workflow of Object.keys(deps.config.workflows)) {
    let nextToken: string | undefined;
    do {
      const page = await deps.store.listActiveRuns(workflow, {
        limit: options.pageSize ?? 100,
        ...(nextToken ? { nextToken } : {}),
      });
      for (const run of page.runs) {
        runsChecked += 1;
        const overdue = await deps.store.listOverduePlugins(run, now);
        for (const plugin of overdue) {
          // Left In Progress by an earlier generation (the run was rerun since): not this run's concern.
          if (plugin.generation !== run.generation) continue;
          // One timeout per attempt in flight (another after TIMEOUT_RESEND_SECONDS), not one per tick.
          const claimed = await deps.store.claimTimeout(
            plugin,
            { generation: plugin.generation, attempt: plugin.attempt },
            now,
            resendAfter,
          );
          if (!claimed) continue;
          await deps.commands.send({
            schemaVersion: 1,
            kind: 'timeout',
            workflow: plugin.workflow,
            uid: plugin.uid,
            generation: plugin.generation,
            activity: plugin.activity,
            stage: plugin.stage,
            plugin: plugin.plugin,
            attempt: plugin.attempt,
          });
          timeoutsSent += 1;
        }
      }
      nextToken = page.nextToken;
    } while (nextToken);
  }
  return { runsChecked, timeoutsSent };
}
