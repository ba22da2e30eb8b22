/**
 * `plugboard`: the operators' and plugin authors' command line. Builds the commander program (one
 * command per file in ./commands), runs it, and turns every failure into a message and an exit code:
 * 0 ok, 1 failure or not found, 2 usage error.
 */
import { Command, CommanderError, Option } from 'commander';
import { EngineError, UnknownRunError } from '../../lambdas/engine/errors.js';
import { wantsApi } from './api-connection.js';
import { registerCancel } from './commands/cancel.js';
import { registerCredentials } from './commands/credentials.js';
import { registerDeploy } from './commands/deploy.js';
import { registerDestroy } from './commands/destroy.js';
import { registerEvents } from './commands/events.js';
import { registerList } from './commands/list.js';
import { registerPlugins } from './commands/plugins.js';
import { registerRetry } from './commands/retry.js';
import { registerSkip } from './commands/skip.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerWatch } from './commands/watch.js';
import { type CommandContext, ContextFactory, hintCommand } from './context.js';
import type { GlobalOptions } from './deployment.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { endQuietlyOnClosedPipe } from './output.js';
import { checkWorkflow } from './workflows.js';

/** What one CLI process learns while it runs: its exit code, and the options of the command. */
export interface CliState {
  exitCode: number;
  debug: boolean;
  options?: GlobalOptions;
}

/** The commands that can go through the HTTP API (`--api`). */
export const API_COMMANDS: ReadonlySet<string> = new Set([
  'start',
  'status',
  'watch',
  'list',
  'cancel',
  'retry',
  'skip',
]);

export interface Registrar {
  readonly program: Command;
  readonly contexts: ContextFactory;
  /** Wraps an action so its result or error becomes the process's exit code. */
  run<O>(
    action: (ctx: CommandContext, args: readonly string[], options: O) => Promise<number | undefined>,
  ): (...args: unknown[]) => Promise<void>;
}

export interface MainOptions {
  /** What `--version` prints (the version of the `@plugboard/cli` package). */
  readonly version?: string;
}

export function buildProgram(state: CliState, options: MainOptions = {}): Registrar {
  const program = new Command('plugboard');
  const contexts = new ContextFactory();
  if (options.version !== undefined) program.version(options.version, '-V, --version', 'print the version');
  program
    .description('Start, watch and repair Plugboard workflow runs; inspect the plugin registry.')
    .addOption(
      new Option('--stage <stage>', 'deployment stage').default('dev').env('PLUGBOARD_DEPLOYMENT_STAGE'),
    )
    .addOption(
      new Option('--system <name>', 'system name of the deployment')
        .default('plugboard')
        .env('PLUGBOARD_SYSTEM_NAME'),
    )
    .option('--region <region>', 'AWS region (default: the SDK default chain)')
    .option(
      '--local',
      'use the local cloud (state file .plugboard/local.json, or PLUGBOARD_LOCAL_STATE); implied by AWS_ENDPOINT_URL',
    )
    .addOption(
      new Option(
        '--api [url]',
        "talk to the HTTP API at url (start, status, list, cancel, retry, skip); with --local, the local cloud's API",
      ).env('PLUGBOARD_API_URL'),
    )
    .addOption(
      new Option(
        '--token <jwt>',
        'with --api: a bearer token (an API with the JWT authorizer) instead of SigV4',
      ).env('PLUGBOARD_API_TOKEN'),
    )
    .option('--json', 'machine-readable JSON output')
    .option('--debug', 'show stack traces and causes of errors')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Deployment: exports of <system>-<stage> (CloudFormation ListExports), or the local cloud with --local.
HTTP API (--api): requests signed with your AWS credentials (SigV4), or --token for a JWT-authorized API.
Exit codes: 0 ok, 1 failure or not found, 2 usage error.

Examples:
  $ npx plugboard start order --uid order-1234 --metadata '{"channel":"web"}'
  $ npx plugboard watch order order-1234
  $ npx plugboard list --workflow order --state stuck
  $ npx plugboard --local status order order-1234
  $ npx plugboard --api https://abc123.execute-api.eu-west-1.amazonaws.com status order order-1234`,
    );

  const run: Registrar['run'] =
    (action) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.opts() as Parameters<typeof action>[2];
      const ctx = contexts.create(command);
      state.debug = ctx.options.debug === true;
      state.options = ctx.options;
      if (wantsApi(ctx.options) && !API_COMMANDS.has(command.name())) {
        throw new UsageError(
          `\`${command.name()}\` does not go through the HTTP API; it talks to the deployment directly. Drop --api (and unset PLUGBOARD_API_URL) for it. Through the API: ${[...API_COMMANDS].join(', ')}.`,
        );
      }
      // Through the API, the API itself refuses an unknown workflow (404 naming the known ones).
      if (wantsApi(ctx.options)) {
        state.exitCode = (await action(ctx, command.processedArgs as string[], options)) ?? EXIT.ok;
        return;
      }
      // Every command names a workflow the project does not declare, before touching AWS.
      const [workflowArgument] = command.registeredArguments;
      const [firstArgument] = command.processedArgs as unknown[];
      if (workflowArgument?.name() === 'workflow' && typeof firstArgument === 'string') {
        await checkWorkflow(firstArgument, ctx);
      }
      const workflowOption = (options as { workflow?: unknown }).workflow;
      if (typeof workflowOption === 'string') await checkWorkflow(workflowOption, ctx);
      state.exitCode = (await action(ctx, command.processedArgs as string[], options)) ?? EXIT.ok;
    };

  const registrar: Registrar = { program, contexts, run };
  registerStart(registrar);
  registerStatus(registrar);
  registerWatch(registrar);
  registerRetry(registrar);
  registerCancel(registrar);
  registerSkip(registrar);
  registerList(registrar);
  registerPlugins(registrar);
  registerEvents(registrar);
  registerCredentials(registrar);
  registerDeploy(registrar);
  registerDestroy(registrar);
  return registrar;
}

/** Runs the CLI with `argv` (as in process.argv) and returns the exit code. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const state: CliState = { exitCode: EXIT.ok, debug: argv.includes('--debug') };
  endQuietlyOnClosedPipe();
  const { program, contexts } = buildProgram(state, options);
  try {
    await program.parseAsync([...argv]);
    return state.exitCode;
  } catch (error) {
    return report(
      error,
      state.debug,
      argv.includes('--json'),
      state.options ?? { stage: '', system: '', local: argv.includes('--local') },
    );
  } finally {
    await contexts.dispose();
  }
}

function report(error: unknown, debug: boolean, json: boolean, options: GlobalOptions): number {
  if (error instanceof CommanderError) {
    // Commander has already printed the problem (or the help/version asked for).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
    return EXIT.usage;
  }
  const { message, exitCode } = describe(error, options);
  process.stderr.write(`plugboard: ${message}\n`);
  if (json) {
    // Scripts read stdout: a failure is a JSON object there too.
    const type = error instanceof Error ? error.name : 'Error';
    process.stdout.write(`${JSON.stringify({ ok: false, error: { type, message } }, null, 2)}\n`);
  }
  if (debug && error instanceof Error) {
    process.stderr.write(`${error.stack ?? ''}\n`);
    if (error.cause !== undefined)
      process.stderr.write(`cause: ${String((error.cause as Error)?.stack ?? error.cause)}\n`);
  } else if (exitCode === EXIT.failure && !(error instanceof CliError) && !(error instanceof EngineError)) {
    process.stderr.write('(add --debug for details)\n');
  }
  return exitCode;
}

function describe(error: unknown, options: GlobalOptions): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof UnknownRunError) {
    return {
      message: `${error.message} (list runs: ${hintCommand(options, `list --workflow ${error.workflow}`)})`,
      exitCode: EXIT.failure,
    };
  }
  if (error instanceof EngineError) return { message: error.message, exitCode: EXIT.failure };
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(error.message)) {
      return {
        message: `Cannot connect (${error.message}). Is the local cloud running? With --local, start it again (npm start -- --keep).`,
        exitCode: EXIT.failure,
      };
    }
    if (error.message === 'Region is missing') {
      return {
        message: 'No AWS region: pass --region <region> or set AWS_REGION (or use --local).',
        exitCode: EXIT.failure,
      };
    }
    if (error.name === 'CredentialsProviderError') {
      return {
        message: `No AWS credentials (${error.message}). Configure them (AWS_PROFILE, aws sso login…) or use --local.`,
        exitCode: EXIT.failure,
      };
    }
    if (error.name === 'ResourceNotFoundException') {
      return {
        message: `${error.message}. The deployment's resources were not found: check --stage, --system and --region.`,
        exitCode: EXIT.failure,
      };
    }
    return { message: `${error.name}: ${error.message}`, exitCode: EXIT.failure };
  }
  return { message: String(error), exitCode: EXIT.failure };
}
