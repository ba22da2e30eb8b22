/** `plugboard skip <workflow> <uid> <activity> <stage> <plugin>`: operator Do Not Run. */
import { SqsCommandBus } from '../../../lambdas/adapters/sqs-command-bus.js';
import type { StageName } from '../../../lambdas/contracts/index.js';
import { skipPlugin } from '../../../lambdas/engine/operator.js';
import { operateViaApi } from '../api-runs.js';
import type { CommandContext } from '../context.js';
import { EXIT, UsageError } from '../errors.js';
import type { Registrar } from '../main.js';
import { parseStageName } from '../parse.js';
import { declaredConfig } from '../workflows.js';

export function registerSkip({ program, run }: Registrar): void {
  program
    .command('skip')
    .description(
      'Mark a plugin Do Not Run for the current generation of a run in progress. A plugin that is running or finished cannot be skipped.',
    )
    .argument('<workflow>', 'workflow name')
    .argument('<uid>', 'the run uid')
    .argument('<activity>', 'activity name')
    .argument('<stage>', 'pre, parallel or post')
    .argument('<plugin>', 'plugin name')
    .addHelpText(
      'after',
      `
If the stage waits for the plugin (not dispatched yet, or waiting for a retry), it stops waiting;
if the stage has not started, it will not dispatch the plugin.

Example:
  $ npx plugboard skip order order-1234 notify post send-sms
  Skipped notify/post/send-sms of order/order-1234 (Do Not Run).`,
    )
    .action(
      run<Record<string, never>>(
        async (ctx, [workflow = '', uid = '', activity = '', stageArg = '', plugin = '']) => {
          const stage = parseStageName(stageArg);
          const api = ctx.api();
          if (api !== undefined) {
            await operateViaApi(await api, workflow, uid, ['plugins', activity, stage, plugin, 'skip']);
          } else {
            await skipDirectly(ctx, { workflow, uid, activity, stage, plugin });
          }
          if (ctx.out.json) {
            ctx.out.data({ ok: true, skipped: { workflow, uid, activity, stage, plugin } });
            return EXIT.ok;
          }
          ctx.out.line(`Skipped ${activity}/${stage}/${plugin} of ${workflow}/${uid} (Do Not Run).`);
          return EXIT.ok;
        },
      ),
    );
}

async function skipDirectly(
  ctx: CommandContext,
  key: { workflow: string; uid: string; activity: string; stage: StageName; plugin: string },
): Promise<void> {
  const { workflow, uid, activity, stage, plugin } = key;
  const deployment = await ctx.deployment();
  const current = await deployment.store.getRun({ workflow, uid });
  if (current && !current.activities.includes(activity)) {
    throw new UsageError(
      `Activity "${activity}" is not part of run "${uid}" (its activities: ${current.activities.join(', ')}).`,
    );
  }
  const project = await declaredConfig(ctx);
  await skipPlugin(
    {
      store: deployment.store,
      registry: deployment.registry,
      ...(project ? { config: { activities: project.activities } } : {}),
      clock: { now: () => ctx.now() },
      commands: new SqsCommandBus(deployment.inboxUrl, deployment.sqs),
    },
    { workflow, uid, activity, stage, plugin },
  );
}
