/**
 * `plugboard --local destroy <stack>`: removes a stack from the running local cloud (custom resources
 * get their Delete request, so a plugin is deregistered through the registrar; its functions stop; its
 * subscriptions, queues and topics are deleted). A stack that is not deployed is reported, not an error.
 */
import { EXIT } from '../errors.js';
import { controlFailure, localControl } from '../local-control.js';
import type { Registrar } from '../main.js';

export function registerDestroy({ program, run }: Registrar): void {
  program
    .command('destroy')
    .description('Remove a stack from the running local cloud (e.g. one deployed with deploy).')
    .argument('<stack>', 'the stack name')
    .addHelpText(
      'after',
      `
Works with the local cloud only (npm start -- --keep). A stack another stack imports from cannot be
destroyed first (as on AWS).

Example:
  $ npx plugboard --local destroy my-team-plugins`,
    )
    .action(
      run(async (ctx, [stack = '']) => {
        const control = await localControl(ctx, 'destroy');
        const answer = await control.destroy(stack).catch((error: unknown) => {
          throw controlFailure(error);
        });
        if (ctx.out.json) {
          ctx.out.data(answer);
          return EXIT.ok;
        }
        if (!answer.destroyed) {
          ctx.out.line(
            `Stack ${stack} is not deployed in the local cloud: nothing to destroy (deployed: ${answer.remaining.join(', ') || 'none'}).`,
          );
          return EXIT.ok;
        }
        ctx.out.line(`destroyed ${stack}: ${answer.resources} resources`);
        if (answer.exports.length > 0) ctx.out.line(`  exports removed: ${answer.exports.join(', ')}`);
        return EXIT.ok;
      }),
    );
}
