/**
 * Where a run is in the web console: the console stack exports its URL under one name, and whoever
 * links to a run (the CLI's `status`, notifications) builds the run's address the same way as the
 * console's own routes (console/src/util.ts: `#/runs/<workflow>/<uid>`).
 */
import type { DeploymentRef } from '../../plugin-kit/src/contracts/index.js';

/** The console stack's export of its URL (`<system>-<stage>-console-url`). */
export const consoleUrlExport = (d: DeploymentRef): string => `${d.systemName}-${d.stage}-console-url`;

/** The console page of one run. */
export function runConsoleUrl(consoleUrl: string, workflow: string, uid: string): string {
  return `${consoleUrl.replace(/\/+$/, '')}/#/runs/${encodeURIComponent(workflow)}/${encodeURIComponent(uid)}`;
}
