/**
 * `plugboard watch <workflow> <uid>`: follows a run until it ends. On a TTY the tree is redrawn in
 * place; otherwise (and with --json) one line per change. Exit code: 0 Complete, 1 Error or
 * Cancelled, 2 timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isFinalRunState, STATES } from '../../../lambdas/contracts/index.js';
import type { RunSnapshot } from '../../../lambdas/engine/records.js';
import { EXIT } from '../errors.js';
import { describeChange, formatClock, renderRunTree, snapshotChanges } from '../format.js';
import type { Registrar } from '../main.js';
import { fitWidth, paint, redrawFrame } from '../output.js';
import { parseDuration } from '../parse.js';
import { readSnapshot } from './status.js';

interface WatchOptions {
  readonly interval: string;
  readonly timeout?: string;
  readonly verbose?: boolean;
}

/** Exit code of `watch` when the wait ran out before the run ended. */
export const WATCH_TIMEOUT_EXIT = 2;

export function registerWatch({ program, run }: Registrar): void {
  program
    .command('watch')
    .description('Follow a run live until it ends; the exit code reflects the outcome.')
    .argument('<workflow>', 'workflow name')
    .argument('<uid>', 'the run uid')
    .option('--interval <duration>', 'time between reads', '2s')
    .option('--timeout <duration>', 'give up after this long (exit 2)')
    .option('-v, --verbose', 'show per-state timestamps in the tree (TTY)')
    .addHelpText(
      'after',
      `
Exit codes: 0 the run completed, 1 it failed (Error) or was cancelled, 2 --timeout ran out.

Example (not a TTY, e.g. in CI):
  $ npx plugboard watch order order-1234 --timeout 10m
  10:00:00 UTC run: In Progress
  10:00:00 UTC intake/pre: In Progress
  10:00:00 UTC intake/pre/validate: In Progress
  10:00:01 UTC intake/pre/validate: In Progress → Complete
  ...
  10:00:04 UTC run: In Progress → Complete

With --json, one object per line: {"at", "path", "kind", "activity", "stage", "plugin", "generation",
"from", "to", "attempt", "maxAttempts", "message"} per change (absent fields omitted), and
{"final", "run"} or {"timeout", "state"} at the end.`,
    )
    .action(
      run<WatchOptions>(async (ctx, [workflow = '', uid = ''], options) => {
        const interval = parseDuration(options.interval, '--interval');
        const timeout =
          options.timeout === undefined ? undefined : parseDuration(options.timeout, '--timeout');
        const started = Date.now();
        const redraw = ctx.out.tty && !ctx.out.json;
        let previous: RunSnapshot | undefined;
        let drawn = 0;
        for (;;) {
          const snapshot = await readSnapshot(ctx, workflow, uid);
          const at = ctx.now();
          if (redraw) {
            const lines = renderRunTree(snapshot, {
              now: at,
              color: ctx.out.color,
              verbose: options.verbose === true,
            });
            lines.push(
              paint(
                ctx.out.color,
                'dim',
                `watching since ${Math.round((Date.now() - started) / 1000)}s · Ctrl-C to stop`,
              ),
            );
            ctx.out.write(
              redrawFrame(
                drawn,
                lines.map((line) => fitWidth(line, process.stdout.columns)),
              ),
            );
            drawn = lines.length;
          } else {
            const time = formatClock(at);
            for (const change of snapshotChanges(previous, snapshot)) {
              if (ctx.out.json) ctx.out.write(`${JSON.stringify({ at: at.toISOString(), ...change })}\n`);
              else ctx.out.line(`${time} ${describeChange(change)}`);
            }
          }
          previous = snapshot;
          const state = snapshot.run.state;
          if (isFinalRunState(state)) {
            if (ctx.out.json) ctx.out.write(`${JSON.stringify({ final: state, run: snapshot.run })}\n`);
            else if (redraw) ctx.out.line(`Run ${state}.`);
            return state === STATES.complete ? EXIT.ok : EXIT.failure;
          }
          if (timeout !== undefined && Date.now() - started + interval > timeout) {
            const message = `Still ${state} after ${options.timeout}; stopped watching (the run goes on).`;
            if (ctx.out.json) ctx.out.write(`${JSON.stringify({ timeout: true, state })}\n`);
            else ctx.out.error(message);
            return WATCH_TIMEOUT_EXIT;
          }
          await sleep(interval);
        }
      }),
    );
}
