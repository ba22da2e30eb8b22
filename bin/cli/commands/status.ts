/** `plugboard status <workflow> <uid>`: the run as a tree (activity → stage → plugin). */
import { consoleUrlExport, runConsoleUrl } from '../../../lambdas/api/console-links.js';
import type { RunSnapshot } from '../../../lambdas/engine/records.js';
import { type CommandContext, hintCommand } from '../context.js';
import { EXIT, NotFoundError } from '../errors.js';
import { renderRunTree } from '../format.js';
import type { Registrar } from '../main.js';

interface StatusOptions {
  readonly verbose?: boolean;
  readonly history?: boolean;
}

/** Reads the whole run, or fails with how to find the right one. */
export async function readSnapshot(ctx: CommandContext, workflow: string, uid: string): Promise<RunSnapshot> {
  const deployment = await ctx.deployment();
  const snapshot = await deployment.store.readRun({ workflow, uid });
  if (!snapshot) {
    throw new NotFoundError(
      `No run "${uid}" of workflow "${workflow}" in ${deployment.ref.systemName}-${deployment.ref.stage}. Check the names, or list runs: ${hintCommand(ctx.options, `list --workflow ${workflow}`)}`,
    );
  }
  return snapshot;
}

export function registerStatus({ program, run }: Registrar): void {
  program
    .command('status')
    .description(
      'Show a run: activity → stage → plugin with states, attempts, durations, messages and results.',
    )
    .argument('<workflow>', 'workflow name')
    .argument('<uid>', 'the run uid')
    .option('-v, --verbose', 'also show the time each component entered each state, and deadlines')
    .option('--history', "list every plugin's attempts: outcome, start, duration and message of each")
    .addHelpText(
      'after',
      `
Example:
  $ npx plugboard status order order-1234
  order / order-1234  Complete  generation 1  started 2026-11-23 10:00:00  ended 2026-11-23 10:00:04  4.2s
  ├─ intake
  │  ├─ pre  Complete  0.6s
  │  │  └─ validate  Complete  mandatory  attempt 1/3  0.4s
  ...`,
    )
    .action(
      run<StatusOptions>(async (ctx, [workflow = '', uid = ''], options) => {
        const snapshot = await readSnapshot(ctx, workflow, uid);
        if (ctx.out.json) {
          ctx.out.data(snapshot);
          return EXIT.ok;
        }
        for (const line of renderRunTree(snapshot, {
          now: ctx.now(),
          color: ctx.out.color,
          verbose: options.verbose === true,
          history: options.history === true,
        })) {
          ctx.out.line(line);
        }
        // When the deployment has a console (its stack's export; the local cloud writes its console's),
        // the run's page there.
        const { exports, ref } = await ctx.deployment();
        const consoleUrl = exports[consoleUrlExport(ref)];
        if (consoleUrl !== undefined) ctx.out.line(`console: ${runConsoleUrl(consoleUrl, workflow, uid)}`);
        return EXIT.ok;
      }),
    );
}
