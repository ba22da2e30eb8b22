/**
 * The emulated AWS endpoint: a `moto_server` child process on a free loopback port (or an endpoint the
 * user already runs, from `AWS_ENDPOINT_URL`). A server we start is stopped by PID when `stop()` is
 * called, when the process exits, on Ctrl-C (SIGINT) and SIGTERM, and when start-up fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { MotoStartError, MotoUnavailableError } from './errors.js';

/** The region every local resource lives in (moto's default). */
export const LOCAL_REGION = 'us-east-1';
/** The account moto uses for every request made with dummy credentials. */
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_PARTITION = 'aws';
export const LOCAL_URL_SUFFIX = 'amazonaws.com';
/** What a user runs to get the emulator. */
export const MOTO_INSTALL_COMMAND = "pip install 'moto[server]==5.2.1'";

/**
 * The emulator command a new local cloud runs: moto's server without its model-instance tracking,
 * which otherwise keeps a copy of every table per `TransactWriteItems` for as long as moto runs
 * (local/scripts/moto-server-untracked; docs/local-cloud.md, "A long session"). It finds the
 * `moto_server` on PATH's Python when its own `python3` has no moto.
 */
export const UNTRACKED_MOTO_COMMAND = fileURLToPath(
  new URL('./scripts/moto-server-untracked', import.meta.url),
);

/** Dummy credentials moto accepts; they map to {@link LOCAL_ACCOUNT_ID}. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' } as const;

/** SDK v3 client options that point a client at the local cloud. */
export interface AwsClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly maxAttempts: number;
}

export interface Cloud {
  /** Base URL of the emulator, e.g. `http://127.0.0.1:40123`. */
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
  /** PID of the moto_server we started; `undefined` for an external endpoint. */
  readonly pid: number | undefined;
  /** Whether this process started the server (and therefore stops it). */
  readonly owned: boolean;
  clientConfig(): AwsClientConfig;
  /** Wipes every resource in the emulator (moto's global reset). */
  reset(): Promise<void>;
  /** Stops the server we started (no-op for an external endpoint). Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartCloudOptions {
  /**
   * Use this running emulator instead of starting one.
   * @default - `AWS_ENDPOINT_URL` from `env`, else a new moto_server is started
   */
  readonly endpoint?: string;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The emulator to run (`<command> -H 127.0.0.1 -p <port>`), e.g. `'moto_server'` for moto as
   * installed. @default {@link UNTRACKED_MOTO_COMMAND}
   */
  readonly command?: string;
  /** How long to wait for the server to answer. @default 20000 */
  readonly readyTimeoutMs?: number;
  /** Stop the server on SIGINT/SIGTERM and at process exit. @default true */
  readonly handleSignals?: boolean;
  /**
   * The loopback port for a new moto_server; starting fails if another program holds it.
   * @default - a free port (another one is tried if a parallel process takes it first)
   */
  readonly port?: number;
}

export function awsClientConfig(endpoint: string): AwsClientConfig {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 };
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      if (address === null || typeof address === 'string') {
        reject(new MotoStartError('could not read the port of a probe socket'));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls moto's `/moto-api/data.json` until it answers 200, or throws after `timeoutMs`. */
export async function waitForMoto(
  endpoint: string,
  options: {
    readonly timeoutMs: number;
    /** Called before each poll; throws to give up early (e.g. the process exited). */
    readonly check?: () => void;
  },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError = 'no answer';
  while (Date.now() < deadline) {
    options.check?.();
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
      await response.body?.cancel();
      if (response.ok) return;
      lastError = `HTTP ${response.status}`;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(50);
  }
  throw new MotoStartError(
    `The emulator at ${endpoint} did not answer /moto-api/data.json within ${options.timeoutMs} ms (${lastError}).`,
  );
}

async function resetEndpoint(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  await response.body?.cancel();
  if (!response.ok) throw new MotoStartError(`moto reset at ${endpoint} failed with HTTP ${response.status}`);
}

/** Starts moto_server (or attaches to `AWS_ENDPOINT_URL`) and resolves once it answers. */
export async function startCloud(options: StartCloudOptions = {}): Promise<Cloud> {
  const env = options.env ?? process.env;
  const external = options.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  if (external !== undefined) {
    const endpoint = external.replace(/\/+$/, '');
    await waitForMoto(endpoint, { timeoutMs: Math.min(timeoutMs, 5000) });
    return {
      endpoint,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      pid: undefined,
      owned: false,
      clientConfig: () => awsClientConfig(endpoint),
      reset: () => resetEndpoint(endpoint),
      stop: async () => {},
    };
  }
  const command = options.command ?? UNTRACKED_MOTO_COMMAND;
  const handleSignals = options.handleSignals ?? true;
  if (options.port !== undefined)
    return startMotoServerOnPort(options.port, command, timeoutMs, handleSignals);
  return startMotoServer(command, timeoutMs, handleSignals);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Attempts at a free port: another process may take the probed port before moto binds it. */
const PORT_ATTEMPTS = 3;
/** How long to wait, after the port answers, for our moto_server to say it runs (or to exit). */
const OWN_PORT_CONFIRM_MS = 3000;

async function startMotoServer(command: string, timeoutMs: number, handleSignals: boolean): Promise<Cloud> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startMotoServerOnPort(await freePort(), command, timeoutMs, handleSignals);
    } catch (error) {
      // The probe socket is closed before moto binds the port (seconds later): a parallel process may
      // have taken it in between. Ask for another port rather than fail.
      if (!(error instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

class PortTakenError extends MotoStartError {}

async function startMotoServerOnPort(
  port: number,
  command: string,
  timeoutMs: number,
  handleSignals: boolean,
): Promise<Cloud> {
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(command, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => {
    spawnError = error;
  });
  const guard = handleSignals ? installExitGuard(child) : undefined;
  const check = () => {
    if (spawnError !== undefined) throw missingCommand(command, spawnError);
    if (child.exitCode !== null || child.signalCode !== null) throw exitedEarly(child, stderr);
  };
  try {
    await waitForMoto(endpoint, { timeoutMs, check });
    // An answer proves a server listens on the port, not that it is ours: another test process may
    // have bound it first, and then our child exits with "Address already in use". Ours says it runs.
    for (const until = Date.now() + OWN_PORT_CONFIRM_MS; !stderr.includes('Running on'); ) {
      check();
      if (Date.now() > until) break;
      await sleep(50);
    }
  } catch (error) {
    guard?.remove();
    killNow(child);
    if (error instanceof MotoUnavailableError || error instanceof PortTakenError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const detail =
      stderr.trim() && !message.includes('stderr ---')
        ? `\n--- moto_server stderr ---\n${stderr.trim()}`
        : '';
    throw new MotoStartError(`${message}${detail}`, { cause: error });
  }
  const pid = child.pid;
  if (pid === undefined) {
    guard?.remove();
    throw new MotoStartError('moto_server started without a PID');
  }
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    pid,
    owned: true,
    clientConfig: () => awsClientConfig(endpoint),
    reset: () => resetEndpoint(endpoint),
    stop() {
      stopping ??= stopChild(child, pid).finally(() => guard?.remove());
      return stopping;
    },
  };
}

function missingCommand(command: string, error: NodeJS.ErrnoException): Error {
  if (error.code === 'ENOENT') {
    return new MotoUnavailableError(`${command} was not found on PATH.`, MOTO_INSTALL_COMMAND, {
      cause: error,
    });
  }
  return new MotoStartError(`${command} could not be started: ${error.message}`, { cause: error });
}

function exitedEarly(child: ChildProcess, stderr: string): Error {
  const how = child.exitCode !== null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
  const detail = stderr.trim() ? `\n--- moto_server stderr ---\n${stderr.trim()}` : '';
  // A missing interpreter or module shows as exit 127 or an import error: an installation problem.
  if (
    child.exitCode === 127 ||
    /No module named|command not found|not found|ModuleNotFoundError/i.test(stderr)
  ) {
    return new MotoUnavailableError(
      `moto_server exited with ${how} before it was ready: Python or moto's server extras are missing.${detail}`,
      MOTO_INSTALL_COMMAND,
    );
  }
  if (/address already in use|errno 98/i.test(stderr)) {
    return new PortTakenError(
      `moto_server exited with ${how}: another program holds its port (choose another, or stop that program).${detail}`,
    );
  }
  return new MotoStartError(`moto_server exited with ${how} before it was ready.${detail}`);
}

function killNow(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function stopChild(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => killNow(child), 3000);
  await exited;
  clearTimeout(timer);
}

/**
 * Kills the child by PID when this process exits or receives SIGINT/SIGTERM. After killing it, a
 * signal is re-raised when nobody else listens for it, so Ctrl-C still ends the process.
 */
function installExitGuard(child: ChildProcess): { remove(): void } {
  const killChild = () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    remove();
    killChild();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const remove = () => {
    process.removeListener('exit', killChild);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
  process.once('exit', killChild);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return { remove };
}
