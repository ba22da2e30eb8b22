/** `plugboard retry <workflow> <uid>`: reruns the failed, timed-out and unfinished plugins of a finished run. */
import { STATES } from '../../../lambdas/contracts/index.js';
import { CliError, EXIT } from '../errors.js';
import type { Registrar } from '../main.js';
import { paint } from '../output.js';
import { invokeStart, refusedStart } from '../start-function.js';
import { readSnapshot } from './status.js';

const KEPT = new Set<string>([STATES.complete, STATES.doNotRun]);

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
retries play out); a complete run has nothing to retry.

Example:
  $ npx plugboard retry order order-1234
  Rerunning order/order-1234 (generation 2): will run again fulfilment/parallel/charge-card
  Watch it:  npx plugboard watch order order-1234`,
    )
    .action(
      run<Record<string, never>>(async (ctx, [workflow = '', uid = '']) => {
        const snapshot = await readSnapshot(ctx, workflow, uid);
        const { run: current } = snapshot;
        if (current.state === STATES.inProgress) {
          throw new CliError(
            `Run "${uid}" is still In Progress; nothing to retry yet. Watch it (plugboard watch ${workflow} ${uid}) or cancel it first.`,
          );
        }
        if (current.state === STATES.complete) {
          throw new CliError(`Run "${uid}" is Complete; nothing failed, so there is nothing to retry.`);
        }
        const again = snapshot.plugins
          .filter((p) => p.generation === current.generation && !KEPT.has(p.state))
          .map((p) => `${p.activity}/${p.stage}/${p.plugin}`);
        const deployment = await ctx.deployment();
        const answer = await invokeStart(deployment, {
          workflow,
          uid,
          metadata: current.metadata,
          rerun: true,
        });
        if (!answer.ok) return refusedStart(ctx.out, answer);
        if (ctx.out.json) {
          ctx.out.data({ ...answer, rerunPlugins: again });
          return EXIT.ok;
        }
        ctx.out.line(
          `${paint(ctx.out.color, 'green', `Rerunning ${workflow}/${uid}`)} (generation ${answer.run.generation})${again.length ? `: will run again ${again.join(', ')}` : ''}`,
        );
        ctx.out.line(
          `Watch it:  npx plugboard${ctx.options.local ? ' --local' : ''} watch ${workflow} ${uid}`,
        );
        return EXIT.ok;
      }),
    );
}
