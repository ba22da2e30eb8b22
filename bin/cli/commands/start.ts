/** `plugboard start <workflow> --uid <id>`: starts a run through the start function, synchronously. */
import { EXIT } from '../errors.js';
import type { Registrar } from '../main.js';
import { paint } from '../output.js';
import { parseMetadata } from '../parse.js';
import { invokeStart, refusedStart } from '../start-function.js';

interface StartOptions {
  readonly uid: string;
  readonly metadata?: string;
  readonly rerun?: boolean;
  readonly metadataOverride?: boolean;
}

export function registerStart({ program, run }: Registrar): void {
  program
    .command('start')
    .description('Start a run of a workflow (invokes the start function and waits for its answer).')
    .argument('<workflow>', 'workflow name, as in plugboard.config.ts')
    .requiredOption(
      '--uid <id>',
      "the run's business key (starting the same uid twice returns the existing run)",
    )
    .option('--metadata <json|@file>', 'metadata of the run: a JSON object, or @path to a JSON file')
    .option('--rerun', 'rerun a finished run: completed plugins are kept, the others run again')
    .option('--metadata-override', 'with --rerun: accept metadata that differs from the first run')
    .addHelpText(
      'after',
      `
Example:
  $ npx plugboard start order --uid order-1234 --metadata '{"channel":"web","total":42}'
  Started run order/order-1234 (generation 1).
  Watch it:  npx plugboard watch order order-1234`,
    )
    .action(
      run<StartOptions>(async (ctx, [workflow = ''], options) => {
        const metadata = options.metadata === undefined ? undefined : parseMetadata(options.metadata);
        const deployment = await ctx.deployment();
        const answer = await invokeStart(deployment, {
          workflow,
          uid: options.uid,
          ...(metadata ? { metadata } : {}),
          ...(options.rerun ? { rerun: true } : {}),
          ...(options.metadataOverride ? { metadataOverride: true } : {}),
        });
        if (!answer.ok) return refusedStart(ctx.out, answer);
        if (ctx.out.json) {
          ctx.out.data(answer);
          return EXIT.ok;
        }
        const { run: started } = answer;
        const name = `${started.workflow}/${started.uid}`;
        const verb =
          answer.outcome === 'started'
            ? `Started run ${name}`
            : answer.outcome === 'rerun'
              ? `Rerunning ${name}`
              : `Run ${name} already exists (${started.state}); nothing was started`;
        ctx.out.line(`${paint(ctx.out.color, 'green', verb)} (generation ${started.generation}).`);
        const local = ctx.options.local ? ' --local' : '';
        ctx.out.line(`Watch it:  npx plugboard${local} watch ${started.workflow} ${started.uid}`);
        return EXIT.ok;
      }),
    );
}
