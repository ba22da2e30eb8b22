/** `plugboard start <workflow> --uid <id>`: starts a run through the start function, synchronously. */
import { isDeepStrictEqual } from 'node:util';
import { STATES } from '../../../lambdas/contracts/index.js';
import { startViaApi } from '../api-runs.js';
import { type CommandContext, hintCommand } from '../context.js';
import { CliError, EXIT } from '../errors.js';
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
        const request = {
          workflow,
          uid: options.uid,
          ...(metadata ? { metadata } : {}),
          ...(options.rerun ? { rerun: true } : {}),
          ...(options.metadataOverride ? { metadataOverride: true } : {}),
        };
        const api = ctx.api();
        const answer = api
          ? await startViaApi(await api, request)
          : await invokeStart(await ctx.deployment(), request);
        if (!answer.ok) return refusedStart(ctx.out, answer);
        // The API refuses other metadata itself (409); the start function answers `existing`.
        if (answer.outcome === 'existing' && metadata !== undefined && api === undefined) {
          await refuseOtherMetadata(ctx, workflow, options, metadata);
        }
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
        ctx.out.line(`Watch it:  ${hintCommand(ctx.options, `watch ${started.workflow} ${started.uid}`)}`);
        return EXIT.ok;
      }),
    );
}

/** Starting an existing uid with other metadata than its run's changed nothing: an error that says so. */
export class MetadataMismatchError extends CliError {}

/**
 * The start function answers `existing` for a uid that already has a run, whatever metadata was
 * given. When the given metadata differs from the run's, nothing the operator asked for happened:
 * fail (exit 1) and say how to rerun the run with the new metadata.
 */
async function refuseOtherMetadata(
  ctx: CommandContext,
  workflow: string,
  options: StartOptions,
  metadata: Record<string, unknown>,
): Promise<void> {
  const deployment = await ctx.deployment();
  const existing = await deployment.store.getRun({ workflow, uid: options.uid });
  if (!existing || isDeepStrictEqual(existing.metadata ?? {}, metadata)) return;
  const rerun = hintCommand(
    ctx.options,
    `start ${workflow} --uid ${options.uid} --metadata '${JSON.stringify(metadata)}' --rerun --metadata-override`,
  );
  const when =
    existing.state === STATES.inProgress
      ? ` once it has ended (it is In Progress; or cancel it first: ${hintCommand(ctx.options, `cancel ${workflow} ${options.uid}`)})`
      : '';
  throw new MetadataMismatchError(
    `Run ${workflow}/${options.uid} already exists (${existing.state}) with other metadata (${JSON.stringify(existing.metadata ?? {})}); nothing was started and its metadata is unchanged. To rerun it with the new metadata${when}: ${rerun}`,
  );
}
