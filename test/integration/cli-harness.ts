/**
 * Harness of the CLI integration tests: the engine's real handlers on a private moto (the orchestra),
 * a minimal Lambda Invoke endpoint in front of the orchestra's start handler (the local runner's
 * invoke server with a backend that calls it, instead of synthesizing and deploying the whole app),
 * a local state file with the exports a deployment would have, and `node bin/plugboard.js` run as a
 * subprocess against all that.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeLocalState } from '../../bin/cli/local-state.js';
import { EXPORTS, STAGE_NAMES } from '../../lambdas/contracts/index.js';
import { FunctionNotFoundError } from '../../local/errors.js';
import { type InvokeServer, startInvokeServer } from '../../local/runner/invoke-server.js';
import type { FakePlugin } from '../support/orchestra.js';
import { Orchestra } from '../support/orchestra.js';

export const WORKFLOW = 'order';
export const ACTIVITIES = ['intake', 'fulfilment'];
export const START_FUNCTION = 'plugboard-dev-start';
const REF = { systemName: 'plugboard', stage: 'dev' };
const REPO = resolve(import.meta.dirname, '../..');

/**
 * The test workflow `order`: intake (pre: validate; parallel: score, enrich, slow) → fulfilment
 * (parallel: charge-card; post: send-sms). Metadata steers the fakes: `fail: true` makes charge-card
 * fail for good in generation 1; `hang: true` makes slow never report.
 */
export function cliPlugins(): FakePlugin[] {
  return [
    {
      activity: 'intake',
      stage: 'pre',
      info: { name: 'validate', default: { mandatory: true }, order: 10 },
      behave: () => ({ status: 'Complete', result: { valid: true } }),
    },
    {
      activity: 'intake',
      stage: 'parallel',
      info: { name: 'score', default: { mandatory: true }, maxAttempts: 2, deadlineSeconds: 120 },
      behave: () => ({ status: 'Complete', result: { score: 0.93, reasons: ['x'.repeat(200)] } }),
    },
    {
      activity: 'intake',
      stage: 'parallel',
      info: { name: 'enrich', default: { mandatory: true }, overrides: { intake: { mandatory: false } } },
      behave: () => ({ status: 'Complete' }),
    },
    {
      activity: 'intake',
      stage: 'parallel',
      info: { name: 'slow', default: { mandatory: true } },
      behave: (m) => (m.metadata.hang === true ? { status: 'hang' } : { status: 'Complete' }),
    },
    {
      activity: 'fulfilment',
      stage: 'parallel',
      info: { name: 'charge-card', default: { mandatory: true } },
      behave: (m) =>
        m.metadata.fail === true && m.generation === 1
          ? { status: 'Error', retryable: false, message: 'card declined' }
          : { status: 'Complete', result: { chargeId: `ch_${m.uid}` } },
    },
    {
      activity: 'fulfilment',
      stage: 'post',
      info: { name: 'send-sms', default: { mandatory: false } },
      filterPolicy: { channel: ['web', 'app'] },
      behave: () => ({ status: 'Complete' }),
    },
  ];
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly env?: Record<string, string>;
  /** Prepend `--local`. @default true */
  readonly local?: boolean;
  /** Called with every chunk the CLI writes to stdout. */
  readonly onStdout?: (text: string) => void;
  /** Called with every chunk the CLI writes to stderr. */
  readonly onStderr?: (text: string) => void;
}

export interface CliWorld {
  readonly orchestra: Orchestra;
  readonly statePath: string;
  /** Runs `node bin/plugboard.js --local <args>` (add `--json` yourself). */
  cli(args: readonly string[], options?: CliOptions): Promise<CliResult>;
  close(): Promise<void>;
}

/** The orchestra's lifecycle events topic (the deployment's events topic export). */
export function eventsTopicArnOf(o: Orchestra): string {
  return `arn:aws:sns:us-east-1:123456789012:${o.prefix}-events`;
}

/** The exports a deployment of `order` would have, pointing at the orchestra's resources. */
export function orchestraExports(o: Orchestra): Record<string, string> {
  const exports: Record<string, string> = {
    [EXPORTS.statusTableName(REF)]: o.table.tableName,
    [EXPORTS.startFunctionName(REF)]: START_FUNCTION,
    [EXPORTS.eventsTopicArn(REF)]: eventsTopicArnOf(o),
  };
  for (const activity of ACTIVITIES) {
    for (const stage of STAGE_NAMES)
      exports[EXPORTS.inboxUrl(REF, activity, stage)] = o.inboxUrl(activity, stage);
  }
  return exports;
}

async function invokeServerFor(o: Orchestra): Promise<InvokeServer> {
  const check = (target: string) => {
    if (target !== START_FUNCTION) throw new FunctionNotFoundError(target);
  };
  return startInvokeServer({
    check,
    invokeAsync: (target) => {
      check(target);
      throw new Error('asynchronous invocations are not served by the test endpoint');
    },
    invokeSync: async (target, payload) => {
      check(target);
      const base = { requestId: 'test', functionName: target, durationMs: 0, coldStart: false, logs: [] };
      try {
        return { ...base, ok: true, payload: await o.start(JSON.parse(payload) as Record<string, unknown>) };
      } catch (error) {
        const e = error as Error;
        return {
          ...base,
          ok: false,
          timedOut: false,
          error: { errorType: e.name, errorMessage: e.message, trace: [] },
        };
      }
    },
  });
}

export async function createCliWorld(endpoint: string): Promise<CliWorld> {
  const orchestra = await Orchestra.create({
    endpoint,
    workflows: { [WORKFLOW]: ACTIVITIES },
    plugins: cliPlugins(),
  });
  const server = await invokeServerFor(orchestra);
  const dir = await mkdtemp(join(tmpdir(), 'plugboard-cli-'));
  const statePath = join(dir, 'local.json');
  await writeLocalState(statePath, {
    endpoint,
    lambdaEndpoint: server.endpoint,
    region: 'us-east-1',
    exports: orchestraExports(orchestra),
  });
  return {
    orchestra,
    statePath,
    cli: (args, options = {}) =>
      runCli(
        [...(options.local === false ? [] : ['--local']), ...args],
        { PLUGBOARD_LOCAL_STATE: statePath, ...options.env },
        options.onStdout,
        options.onStderr,
      ),
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the CLI as a subprocess (asynchronously: the invoke endpoint lives in this process). */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  onStdout?: (text: string) => void,
  onStderr?: (text: string) => void,
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin/plugboard.js'), ...args], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(chunk.toString());
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(chunk.toString());
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** Parses the CLI's JSON output, failing the test with the output when it is not JSON. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/**
 * Resolves once a running CLI's output shows what `output` waits for; fails, with what the CLI wrote,
 * when the CLI exits first (instead of waiting for the test timeout).
 */
export async function outputOf(
  output: { readonly seen: Promise<void> },
  running: Promise<CliResult>,
  what: string,
): Promise<void> {
  const exited = running.then((result) => {
    throw new Error(`the CLI exited (${result.code}) before ${what}:\n${result.stdout}\n${result.stderr}`);
  });
  // Once the output is there, the CLI's own exit is the test's business.
  exited.catch(() => undefined);
  await Promise.race([output.seen, exited]);
}

/** A promise that resolves when `predicate` holds for the text seen so far, and the callback to feed it. */
export function waitForOutput(predicate: (text: string) => boolean): {
  readonly seen: Promise<void>;
  readonly feed: (text: string) => void;
} {
  let text = '';
  let release: () => void = () => undefined;
  const seen = new Promise<void>((r) => {
    release = r;
  });
  return {
    seen,
    feed: (chunk) => {
      text += chunk;
      if (predicate(text)) release();
    },
  };
}
