/**
 * The execution environments of one function: worker threads that each load the bundle once and
 * serve one invocation at a time, like Lambda containers. The pool enforces the function's timeout
 * (the worker is terminated and the invocation reports `Sandbox.Timedout`) and its concurrency
 * limit (reserved concurrency, else the runner's default) together with the runner-wide limit.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { FunctionThrottledError } from '../errors.js';
import { Semaphore } from './semaphore.js';
import { type ErrorPayload, parseWorkerMessage, type WorkerInit } from './worker-protocol.js';

/** What the runner needs to host a function (resolved from the template). */
export interface FunctionDefinition {
  readonly name: string;
  readonly arn: string;
  /** `<file>.<export>`, relative to `codeDirectory`. */
  readonly handler: string;
  /** Directory of the bundle (the CDK asset directory). */
  readonly codeDirectory: string;
  /** e.g. `nodejs20.x`; only Node.js runtimes can be hosted. */
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memorySizeMb: number;
  /** Reserved concurrency; `undefined` means the runner's default limit. */
  readonly reservedConcurrency?: number;
  /** The function's own environment variables (from the template). */
  readonly environment: Readonly<Record<string, string>>;
  /** DeadLetterConfig target (SQS queue or SNS topic ARN) for failed asynchronous invocations. */
  readonly deadLetterTargetArn?: string;
  /** Retries of a failed asynchronous invocation (EventInvokeConfig). @default 2 */
  readonly maximumRetryAttempts?: number;
  /** The execution role (from the template's `Role`): the function's AWS calls act as this role. */
  readonly roleArn?: string;
}

interface InvocationBase {
  readonly requestId: string;
  readonly functionName: string;
  readonly durationMs: number;
  /** Whether a new execution environment was started for this invocation. */
  readonly coldStart: boolean;
  /** Console lines the function wrote during this invocation. */
  readonly logs: readonly string[];
}

export type InvocationResult =
  | (InvocationBase & { readonly ok: true; readonly payload: unknown })
  | (InvocationBase & { readonly ok: false; readonly error: ErrorPayload; readonly timedOut: boolean });

export interface FunctionStats {
  readonly invocations: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly coldStarts: number;
  /** Execution environments started ahead of invocations (prewarm). */
  readonly prewarmed: number;
  /** Invocations running now. */
  readonly running: number;
  /** The highest number of invocations that ever ran at the same time. */
  readonly maxRunning: number;
  /** Execution environments (workers) alive now. */
  readonly environments: number;
  /** The concurrency limit in force. */
  readonly concurrencyLimit: number;
}

export interface FunctionLogLine {
  readonly functionName: string;
  readonly requestId: string | undefined;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

export interface FunctionPoolOptions {
  /** The compiled worker script (see worker-code.ts). */
  readonly workerCode: string;
  /** The complete environment of the function's workers. */
  readonly env: Readonly<Record<string, string>>;
  readonly runtimeModulesFrom: string;
  readonly defaultConcurrency: number;
  readonly globalSlots: Semaphore;
  readonly initTimeoutMs: number;
  readonly onLog: (line: FunctionLogLine) => void;
  /** Called after every invocation (the runner prints a REPORT line in verbose mode). */
  readonly onResult?: (result: InvocationResult) => void;
}

type WorkerOutcome = { ok: true; payload: string } | { ok: false; error: ErrorPayload };

const MAX_LOG_LINES_PER_INVOCATION = 1000;

/** One worker thread: one execution environment. */
class ExecutionEnvironment {
  readonly ready: Promise<void>;
  private readonly worker: Worker;
  private pending: { requestId: string; resolve: (outcome: WorkerOutcome) => void } | undefined;
  private readonly linesByRequest = new Map<string, string[]>();
  dead = false;

  constructor(
    definition: FunctionDefinition,
    options: FunctionPoolOptions,
    initializationType: 'on-demand' | 'provisioned-concurrency' = 'on-demand',
  ) {
    const init: WorkerInit = {
      functionName: definition.name,
      functionArn: definition.arn,
      memorySizeMb: definition.memorySizeMb,
      handler: definition.handler,
      codeDirectory: definition.codeDirectory,
      runtimeModulesFrom: options.runtimeModulesFrom,
      logGroupName: `/aws/lambda/${definition.name}`,
      logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    };
    this.worker = new Worker(options.workerCode, {
      eval: true,
      workerData: init,
      env: { ...options.env, AWS_LAMBDA_INITIALIZATION_TYPE: initializationType },
      name: `lambda:${definition.name}`,
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const fail = (error: ErrorPayload) => {
        this.dead = true;
        this.finish({ ok: false, error });
        reject(new InitializationError(error));
      };
      this.worker.on('message', (raw: unknown) => {
        const message = parseWorkerMessage(raw);
        if (message === undefined) return;
        switch (message.type) {
          case 'ready':
            resolve();
            return;
          case 'init-error':
            fail(message.error);
            void this.worker.terminate();
            return;
          case 'log': {
            if (message.requestId !== undefined) {
              const lines = this.linesByRequest.get(message.requestId);
              if (lines !== undefined && lines.length < MAX_LOG_LINES_PER_INVOCATION)
                lines.push(message.line);
            }
            options.onLog({
              functionName: definition.name,
              requestId: message.requestId,
              stream: message.stream,
              line: message.line,
            });
            return;
          }
          case 'result':
            if (this.pending?.requestId === message.requestId) {
              this.finish(
                message.ok ? { ok: true, payload: message.payload } : { ok: false, error: message.error },
              );
            }
            return;
        }
      });
      this.worker.on('error', (error: Error) => {
        fail({
          errorType: error.name === 'Error' ? 'Runtime.UnhandledError' : error.name,
          errorMessage: error.message,
          trace: (error.stack ?? '').split('\n'),
        });
      });
      this.worker.on('exit', (code: number) => {
        fail({
          errorType: 'Runtime.ExitError',
          errorMessage: `RequestId: ${this.pending?.requestId ?? '-'} Error: Runtime exited with error: exit status ${code}`,
          trace: [],
        });
      });
    });
    // The promise is awaited by the first invocation; avoid an unhandled rejection before that.
    this.ready.catch(() => {});
  }

  private finish(outcome: WorkerOutcome): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.resolve(outcome);
  }

  /** Runs one invocation; the caller enforces the timeout. */
  run(requestId: string, payload: string, deadline: number): Promise<WorkerOutcome> {
    if (this.dead) {
      return Promise.resolve({
        ok: false,
        error: {
          errorType: 'Runtime.ExitError',
          errorMessage: 'the execution environment has exited',
          trace: [],
        },
      });
    }
    return new Promise((resolve) => {
      this.pending = { requestId, resolve };
      this.worker.postMessage({ type: 'invoke', requestId, payload, deadline });
    });
  }

  /** Starts collecting the console lines of a request. */
  captureLogs(requestId: string): string[] {
    const lines: string[] = [];
    this.linesByRequest.set(requestId, lines);
    return lines;
  }

  releaseLogs(requestId: string): void {
    this.linesByRequest.delete(requestId);
  }

  async kill(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

class InitializationError extends Error {
  constructor(readonly payload: ErrorPayload) {
    super(payload.errorMessage);
    this.name = payload.errorType;
  }
}

export class FunctionPool {
  private readonly slots: Semaphore | undefined;
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly all = new Set<ExecutionEnvironment>();
  /** Environments started by prewarm() that are still loading and not yet taken by an invocation. */
  private readonly warming = new Set<ExecutionEnvironment>();
  private counters = {
    invocations: 0,
    errors: 0,
    timeouts: 0,
    coldStarts: 0,
    prewarmed: 0,
    running: 0,
    maxRunning: 0,
  };
  private stopped = false;
  readonly concurrencyLimit: number;

  constructor(
    readonly definition: FunctionDefinition,
    private readonly options: FunctionPoolOptions,
  ) {
    this.concurrencyLimit = definition.reservedConcurrency ?? options.defaultConcurrency;
    this.slots = this.concurrencyLimit > 0 ? new Semaphore(this.concurrencyLimit) : undefined;
  }

  stats(): FunctionStats {
    return { ...this.counters, environments: this.all.size, concurrencyLimit: this.concurrencyLimit };
  }

  /**
   * Starts execution environments before any invocation needs them, up to `count` in all (capped by
   * the concurrency limit), like provisioned concurrency: their workers load the bundle now, with
   * `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`. An invocation that arrives while one
   * is still loading takes it and waits for the rest of its init (a cold start). An environment whose
   * init fails is dropped quietly: the next invocation starts its own and reports the error. Resolves
   * with the number of environments started, once they have loaded.
   */
  prewarm(count = 1): Promise<number> {
    const target = Math.min(count, this.concurrencyLimit);
    const loading: Promise<void>[] = [];
    while (!this.stopped && this.all.size < target) {
      const environment = new ExecutionEnvironment(this.definition, this.options, 'provisioned-concurrency');
      this.counters.prewarmed += 1;
      this.all.add(environment);
      this.warming.add(environment);
      // No init time limit here: nobody waits for it yet (an invocation that takes it applies its own).
      const settle = (ok: boolean) => {
        // Taken by an invocation meanwhile: that invocation owns it now.
        if (!this.warming.delete(environment)) return;
        if (!ok || this.stopped) this.discard(environment);
        else this.idle.push(environment);
      };
      loading.push(
        environment.ready.then(
          () => settle(true),
          () => settle(false),
        ),
      );
    }
    return Promise.all(loading).then(() => loading.length);
  }

  /** Resolves once no prewarmed environment is still loading. */
  async warmed(): Promise<void> {
    while (this.warming.size > 0) {
      await Promise.all([...this.warming].map((environment) => environment.ready.catch(() => undefined)));
    }
  }

  /**
   * Invokes the function with `payload` (JSON text) and waits for a free slot first. Throws
   * {@link FunctionThrottledError} when the reserved concurrency is 0, and RunnerStoppedError when
   * the runner stops while waiting; every other failure is an `ok: false` result.
   */
  async invoke(payload: string, requestId: string = randomUUID()): Promise<InvocationResult> {
    const slots = this.slots;
    if (slots === undefined) throw new FunctionThrottledError(this.definition.name);
    await slots.acquire();
    try {
      await this.options.globalSlots.acquire();
    } catch (error) {
      slots.release();
      throw error;
    }
    const counters = this.counters;
    counters.invocations += 1;
    counters.running += 1;
    counters.maxRunning = Math.max(counters.maxRunning, counters.running);
    try {
      const result = await this.runInEnvironment(payload, requestId);
      if (!result.ok) {
        counters.errors += 1;
        if (result.timedOut) counters.timeouts += 1;
      }
      this.options.onResult?.(result);
      return result;
    } finally {
      counters.running -= 1;
      this.options.globalSlots.release();
      slots.release();
    }
  }

  private async runInEnvironment(payload: string, requestId: string): Promise<InvocationResult> {
    const started = Date.now();
    const base = (coldStart: boolean, logs: readonly string[]) => ({
      requestId,
      functionName: this.definition.name,
      durationMs: Date.now() - started,
      coldStart,
      logs,
    });
    let environment = this.idle.pop();
    // An environment can die while idle (an exception thrown after its handler returned): skip it.
    while (environment?.dead) {
      this.discard(environment);
      environment = this.idle.pop();
    }
    const coldStart = environment === undefined;
    if (environment === undefined) {
      this.counters.coldStarts += 1;
      // A prewarmed environment still loading is further along than a new one.
      const loading = this.warming.values().next();
      if (loading.done) {
        environment = new ExecutionEnvironment(this.definition, this.options);
        this.all.add(environment);
      } else {
        environment = loading.value;
        this.warming.delete(environment);
      }
      const initError = await this.awaitInit(environment);
      if (initError !== undefined) {
        this.discard(environment);
        return { ...base(true, []), ok: false, error: initError, timedOut: false };
      }
    }
    const timeoutMs = this.definition.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const logs = environment.captureLogs(requestId);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([environment.run(requestId, payload, deadline), timeout]);
    clearTimeout(timer);
    environment.releaseLogs(requestId);
    if (outcome === 'timeout') {
      this.discard(environment);
      const seconds = this.definition.timeoutSeconds.toFixed(2);
      return {
        ...base(coldStart, logs),
        ok: false,
        timedOut: true,
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`,
          trace: [],
        },
      };
    }
    if (environment.dead || this.stopped) this.discard(environment);
    else this.idle.push(environment);
    if (!outcome.ok) return { ...base(coldStart, logs), ok: false, error: outcome.error, timedOut: false };
    return { ...base(coldStart, logs), ok: true, payload: parseJson(outcome.payload) };
  }

  private async awaitInit(environment: ExecutionEnvironment): Promise<ErrorPayload | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<ErrorPayload>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            errorType: 'Runtime.InitTimeout',
            errorMessage: `Init of ${this.definition.name} did not finish within ${this.options.initTimeoutMs} ms`,
            trace: [],
          }),
        this.options.initTimeoutMs,
      );
    });
    try {
      return await Promise.race([environment.ready.then(() => undefined), limit]);
    } catch (error) {
      return error instanceof InitializationError
        ? error.payload
        : { errorType: 'Runtime.Unknown', errorMessage: String(error), trace: [] };
    } finally {
      clearTimeout(timer);
    }
  }

  private discard(environment: ExecutionEnvironment): void {
    this.all.delete(environment);
    const index = this.idle.indexOf(environment);
    if (index >= 0) this.idle.splice(index, 1);
    void environment.kill();
  }

  /** Terminates every execution environment; running invocations end with Runtime.ExitError. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.slots?.close();
    const environments = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    this.warming.clear();
    await Promise.all(environments.map((environment) => environment.kill()));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
