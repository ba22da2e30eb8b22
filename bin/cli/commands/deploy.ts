/**
 * `plugboard --local deploy <cloud-assembly-dir>`: deploys another CDK app's synthesized assembly (a
 * plugin team's `cdk.out`) into the running local cloud, through its control endpoint: imports
 * resolved against the exports already deployed, registrations run through the registrar, functions
 * hosted with their own roles. Deploying a stack again replaces it (the local cloud's update).
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { controlFailure, localControl } from '../local-control.js';
import type { Registrar } from '../main.js';

interface DeployCommandOptions {
  readonly stack?: string[];
}

export function registerDeploy({ program, run }: Registrar): void {
  program
    .command('deploy')
    .description("Deploy a CDK app's synthesized assembly (cdk.out) into the running local cloud.")
    .argument('<cloud-assembly-dir>', 'the output directory of cdk synth (e.g. cdk.out)')
    .option('--stack <name...>', 'deploy only these stacks of the assembly')
    .addHelpText(
      'after',
      `
Works with the local cloud only (npm start -- --keep). Deploying the same stack again updates it
(the local cloud replaces it: its registrations are removed and made again).

Examples:
  $ npx plugboard --local deploy cdk.out
  $ npx cdk synth -o cdk.out && npx plugboard --local deploy cdk.out --json`,
    )
    .action(
      run<DeployCommandOptions>(async (ctx, [directory = ''], options) => {
        const assembly = resolve(directory);
        const isAssembly = await stat(join(assembly, 'manifest.json')).then(
          (s) => s.isFile(),
          () => false,
        );
        if (!isAssembly) {
          throw new UsageError(
            `${assembly} is not a cloud assembly (no manifest.json): synthesize the app first (npx cdk synth -o ${directory})`,
          );
        }
        const control = await localControl(ctx, 'deploy');
        const answer = await control
          .deploy({ assembly, ...(options.stack !== undefined ? { stacks: options.stack } : {}) })
          .catch((error: unknown) => {
            throw controlFailure(error);
          });
        if (ctx.out.json) {
          ctx.out.data(answer);
          return EXIT.ok;
        }
        for (const stack of answer.stacks) {
          ctx.out.line(
            `${stack.action} ${stack.stackName}: ${stack.resources} resources, ${stack.functions.length} functions in ${(stack.durationMs / 1000).toFixed(1)} s`,
          );
          for (const name of stack.functions) ctx.out.line(`  function ${name}`);
          for (const [name, value] of Object.entries(stack.exports))
            ctx.out.line(`  export ${name} = ${value}`);
        }
        return EXIT.ok;
      }),
    );
}
