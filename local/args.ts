/**
 * The command line of `npm start` (`npm start -- <options>`): parsed strictly, so that a mistyped
 * option is refused with the usage instead of being ignored while the whole demo runs, and `--help`
 * prints the usage without starting anything.
 */
import { parseArgs } from 'node:util';

export interface StartOptions {
  /** Keep the local cloud running after the demo (until Ctrl-C) and write the CLI's state file. */
  readonly keep: boolean;
  /** Print the functions' logs. */
  readonly verbose: boolean;
  /** Keep the event sources' batching windows as deployed instead of 5 times shorter. */
  readonly fullWindows: boolean;
  /** Enforce IAM on every request (`--no-iam` turns it off; the local cloud then says so). */
  readonly iam: boolean;
}

export type ParsedStartArgs =
  | { readonly kind: 'run'; readonly options: StartOptions }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'error'; readonly text: string };

export const START_USAGE = `Usage: npm start [-- <options>]

Runs Plugboard end to end on this machine: synthesizes the app, starts the local cloud (moto),
deploys it, runs the demo workflows, prints their status and writes the metrics report.

Options:
  --keep                   keep the local cloud running after the demo (until Ctrl-C), so that
                           npx plugboard --local … can talk to it
  --verbose                print the functions' logs
  --full-batching-windows  keep the event sources' batching windows as deployed (none by default;
                           an activity's parallelBatching window where configured)
  --no-iam                 do not evaluate IAM policies on the local cloud's requests (it says so)
  -h, --help               print this help and exit

Environment:
  PLUGBOARD_STATS=1        print the AWS requests per operation
  PLUGBOARD_TRACE=<file>   write every AWS request and log entry with its time to <file>

Examples:
  $ npm start
  $ npm start -- --keep
  $ npx plugboard --local list --workflow order`;

/** Parses the arguments after `npm start --`; never throws, never exits. */
export function parseStartArgs(argv: readonly string[]): ParsedStartArgs {
  let values: {
    keep?: boolean;
    verbose?: boolean;
    'full-batching-windows'?: boolean;
    'no-iam'?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        keep: { type: 'boolean' },
        verbose: { type: 'boolean' },
        'full-batching-windows': { type: 'boolean' },
        'no-iam': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0] ?? String(error);
    return { kind: 'error', text: `npm start: ${reason}\n\n${START_USAGE}` };
  }
  if (values.help) return { kind: 'help', text: START_USAGE };
  return {
    kind: 'run',
    options: {
      keep: values.keep === true,
      verbose: values.verbose === true,
      fullWindows: values['full-batching-windows'] === true,
      iam: values['no-iam'] !== true,
    },
  };
}

/**
 * The options of this process, or the end of it: `--help` prints the usage and exits 0, a bad option
 * prints the problem and the usage to stderr and exits 2. Also silences the AWS SDK's warning that
 * its future releases need a newer Node.js (the lockfile pins releases that support this one; the
 * warning would land in the middle of the demo's output). Set
 * AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=false to see it.
 */
export function startOptions(
  argv: readonly string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
): StartOptions {
  const parsed = parseStartArgs(argv);
  if (parsed.kind === 'help') {
    process.stdout.write(`${parsed.text}\n`);
    process.exit(0);
  }
  if (parsed.kind === 'error') {
    process.stderr.write(`${parsed.text}\n`);
    process.exit(2);
  }
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return parsed.options;
}
