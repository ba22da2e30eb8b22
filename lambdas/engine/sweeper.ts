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

export async function sweepDeadlines(
  deps: Pick<EngineDeps, 'store' | 'commands' | 'clock' | 'config'>,
  options: { readonly pageSize?: number } = {},
): Promise<SweepResult> {
  const now = deps.clock.now().toISOString();
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
