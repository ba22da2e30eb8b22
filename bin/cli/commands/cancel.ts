/** `plugboard cancel <workflow> <uid>`: stops a run in progress (operator override). */
import { cancelRun } from '../../../lambdas/engine/operator.js';
import { operateViaApi } from '../api-runs.js';
import type { CommandContext } from '../context.js';
import { EXIT } from '../errors.js';
import type { Registrar } from '../main.js';
import { paint } from '../output.js';

interface CancelOptions {
  readonly reason?: string;
}

async function cancelDirectly(ctx: CommandContext, workflow: string, uid: string, reason?: string) {
  const deployment = await ctx.deployment();
  return cancelRun(
    { store: deployment.store, events: deployment.events, clock: { now: () => ctx.now() } },
    { workflow, uid },
    reason,
  );
}

export function registerCancel({ program, run }: Registrar): void {
  program
    .command('cancel')
    .description(
      'Cancel a run in progress. Plugins already running finish, but their reports change nothing.',
    )
    .argument('<workflow>', 'workflow name')
    .argument('<uid>', 'the run uid')
    .option('--reason <text>', 'why (stored as the run message and sent with the run.cancelled event)')
    .addHelpText(
      'after',
      `
Example:
  $ npx plugboard cancel order order-1234 --reason "duplicate order"
  Cancelled order/order-1234: duplicate order`,
    )
    .action(
      run<CancelOptions>(async (ctx, [workflow = '', uid = ''], options) => {
        const api = ctx.api();
        const cancelled = api
          ? await operateViaApi(
              await api,
              workflow,
              uid,
              ['cancel'],
              options.reason !== undefined ? { reason: options.reason } : {},
            )
          : await cancelDirectly(ctx, workflow, uid, options.reason);
        if (ctx.out.json) {
          ctx.out.data({ ok: true, run: cancelled });
          return EXIT.ok;
        }
        ctx.out.line(
          `${paint(ctx.out.color, 'red', `Cancelled ${workflow}/${uid}`)}${cancelled.message ? `: ${cancelled.message}` : ''}`,
        );
        return EXIT.ok;
      }),
    );
}
