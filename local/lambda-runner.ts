/**
 * The in-process Lambda runner: hosts every function from its esbuild bundle, each execution
 * environment in its own worker thread with the function's resolved environment, and feeds it from
 * the event sources the template declares: SQS event source mappings, SNS subscriptions (through
 * hidden SQS queues), schedule rules (timers) and direct invocations through a local Lambda Invoke
 * endpoint. See docs/local-cloud.md for what it emulates and what it does not.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { PublishCommand, SNSClient, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, LOCAL_CREDENTIALS } from './cloud.js';
import {
  FunctionDefinitionError,
  FunctionNotFoundError,
  FunctionThrottledError,
  messageOf,
  RunnerStoppedError,
} from './errors.js';
import type { SnsEvent } from './runner/events.js';
import { scheduledEvent } from './runner/events.js';
import {
  type FunctionDefinition,
  type FunctionLogLine,
  FunctionPool,
  type FunctionStats,
  type InvocationResult,
} from './runner/function-pool.js';
import { type InvokeServer, startInvokeServer } from './runner/invoke-server.js';
import { type EmfDocument, MetricsCollector } from './runner/metrics.js';
import type { QueueActivity } from './runner/queue-activity.js';
import { type ScheduleDefinition, ScheduleTimer } from './runner/schedule.js';
import { Semaphore } from './runner/semaphore.js';
import {
  SnsSubscription,
  type SnsSubscriptionDefinition,
  type SnsSubscriptionInfo,
} from './runner/sns-subscription.js';
import {
  SqsEventSource,
  type SqsEventSourceDefinition,
  type SqsEventSourceStats,
} from './runner/sqs-event-source.js';
import { compileWorkerCode } from './runner/worker-code.js';

export type { FunctionDefinition, FunctionStats, InvocationResult } from './runner/function-pool.js';
export type { SnsSubscriptionInfo } from './runner/sns-subscription.js';
export type { SqsEventSourceDefinition } from './runner/sqs-event-source.js';

/** Something the runner reports: a line a function wrote, or a message of the runner itself. */
export type RunnerLogEntry =
  | ({ readonly kind: 'function' } & FunctionLogLine)
  | { readonly kind: 'runner'; readonly level: 'info' | 'warn'; readonly message: string };

export interface RunnerCloud {
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
}

export interface LambdaRunnerOptions {
  readonly cloud: RunnerCloud;
  /** SDK clients for moto; created from `cloud` when omitted. */
  readonly clients?: {
    readonly sqs?: SQSClient;
    readonly sns?: SNSClient;
    readonly cloudwatch?: CloudWatchClient;
  };
  /** Concurrency limit of a function without reserved concurrency. @default 4 */
  readonly defaultConcurrency?: number;
  /** Limit of invocations running at once across all functions. @default 32 */
  readonly globalConcurrency?: number;
  /** Print every line functions write, prefixed with the function name. @default false */
  readonly verbose?: boolean;
  /** Receives every log entry instead of the default printer (stderr). */
  readonly onLog?: (entry: RunnerLogEntry) => void;
  /** Put the metrics of EMF log lines into moto's CloudWatch with PutMetricData. @default false */
  readonly forwardMetrics?: boolean;
  /** Schedules fire every (period / scheduleSpeedUp): 60 000 makes `rate(1 minute)` fire every ms. @default 1 */
  readonly scheduleSpeedUp?: number;
  /**
   * Delays before the retries of a failed asynchronous invocation (Event invokes, SNS, schedules),
   * in seconds; the last entry repeats. AWS waits about 60 and 120 seconds. @default [1, 2]
   */
  readonly asyncRetryDelaysSeconds?: readonly number[];
  /**
   * Divides every event source's MaximumBatchingWindowInSeconds, as `scheduleSpeedUp` divides
   * schedule periods: 4 makes a 1 s window gather for 250 ms. @default 1 (the window as deployed)
   */
  readonly batchingWindowSpeedUp?: number;
  /** Long-poll wait of the SQS pollers, in seconds (also bounds how long stop() waits). @default 1 */
  readonly pollWaitSeconds?: number;
  /** Pollers per SQS event source (capped by the function's concurrency). @default 2 */
  readonly pollersPerEventSource?: number;
  /**
   * Execution environments to start for each function as soon as it is registered (capped by its
   * concurrency), like provisioned concurrency: bundles load while the rest deploys instead of on
   * the first invocation. @default 0 (environments start on demand)
   */
  readonly prewarm?: number;
  /** How long a new execution environment may take to load the bundle. @default 10000 */
  readonly initTimeoutMs?: number;
  /**
   * A directory inside the project whose node_modules provide the packages the Lambda runtime
   * provides (`@aws-sdk/*`) to bundles that leave them external. @default - the directory of local/
   */
  readonly runtimeModulesDirectory?: string;
  /**
   * Hints that a message was sent to a queue (the LocalCloud feeds it from the AWS proxy): a poller
   * gathering a batch wakes up on them; without hints it sleeps through the fraction of its window.
   */
  readonly queueActivity?: QueueActivity;
  /**
   * The credentials a function's execution environments get (IAM enforcement gives each function
   * its role's). @default - the local dummy credentials, which act as the account's administrator
   */
  readonly credentialsFor?: (definition: FunctionDefinition) => {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /**
   * Decides Lambda Invoke calls to the local Invoke endpoint (IAM enforcement); a refusal is sent as
   * it is. @default - every caller may invoke
   */
  readonly authorizeInvoke?: (
    headers: import('node:http').IncomingHttpHeaders,
    functionArn: string,
  ) => Promise<{ status: number; headers: Record<string, string>; body: Buffer } | undefined>;
}

export interface ScheduleTarget {
  readonly id: string;
  /** A Lambda function, SQS queue or SNS topic ARN. */
  readonly arn: string;
  /** The target's constant Input (JSON text), if any; otherwise the scheduled event is sent. */
  readonly input?: string;
}

export interface ScheduleInfo extends ScheduleDefinition {
  readonly targets: readonly ScheduleTarget[];
  readonly intervalMs: number;
  readonly fired: number;
}

/** Prewarmed environments loading at once: one per core. */
const PREWARM_AT_ONCE = Math.max(1, availableParallelism());

const LAMBDA_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:([^:]+)(?::(.+))?$/;
const PARTIAL_ARN = /^\d{12}:function:([^:]+)(?::(.+))?$/;

export class LambdaRunner {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly sqsSources: SqsEventSource[] = [];
  private readonly snsSubscriptionsList: SnsSubscription[] = [];
  private readonly timers: { timer: ScheduleTimer; targets: readonly ScheduleTarget[] }[] = [];
  private readonly asyncInFlight = new Set<Promise<void>>();
  private readonly stopSignal = new AbortController();
  private readonly globalSlots: Semaphore;
  private readonly sqs: SQSClient;
  private readonly sns: SNSClient;
  private readonly metrics: MetricsCollector;
  private readonly log: (entry: RunnerLogEntry) => void;
  private hiddenDeadLetterQueueUrl: Promise<string> | undefined;
  /** Pools to prewarm, each with the number of environments it should have then. */
  private readonly prewarmQueue: { readonly pool: FunctionPool; readonly environments: number }[] = [];
  private readonly prewarming = new Set<Promise<void>>();
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly options: LambdaRunnerOptions,
    private readonly workerCode: string,
    private readonly server: InvokeServer,
  ) {
    const config = awsClientConfig(options.cloud.endpoint);
    this.sqs = options.clients?.sqs ?? new SQSClient(config);
    this.sns = options.clients?.sns ?? new SNSClient(config);
    this.globalSlots = new Semaphore(options.globalConcurrency ?? 32);
    this.log = options.onLog ?? printer(options.verbose ?? false);
    this.metrics = new MetricsCollector({
      cloudwatch: options.forwardMetrics
        ? (options.clients?.cloudwatch ?? new CloudWatchClient(config))
        : undefined,
      keep: 1000,
      warn: (message) => this.warn(message),
    });
  }

  /** Compiles the worker entry and starts the Invoke endpoint. */
  static async start(options: LambdaRunnerOptions): Promise<LambdaRunner> {
    const windowSpeedUp = options.batchingWindowSpeedUp ?? 1;
    if (!(windowSpeedUp > 0)) throw new RangeError(`batchingWindowSpeedUp must be > 0, got ${windowSpeedUp}`);
    const workerCode = await compileWorkerCode();
    let runner: LambdaRunner | undefined;
    const server = await startInvokeServer({
      invokeSync: (target, payload) => {
        if (runner === undefined) throw new RunnerStoppedError('the invocation');
        return runner.poolOf(target).invoke(payload);
      },
      invokeAsync: (target, payload) => {
        if (runner === undefined) throw new RunnerStoppedError('the invocation');
        return runner.invokeAsyncText(target, payload);
      },
      check: (target) => {
        if (runner === undefined) throw new RunnerStoppedError('the invocation');
        runner.poolOf(target);
      },
      ...(options.authorizeInvoke !== undefined
        ? {
            authorize: async (headers, target) => {
              if (runner === undefined || !runner.has(target)) return undefined; // answered as not found
              return options.authorizeInvoke?.(headers, runner.functionArn(target));
            },
          }
        : {}),
    });
    runner = new LambdaRunner(options, workerCode, server);
    return runner;
  }

  /** Base URL of the Lambda Invoke endpoint (`AWS_ENDPOINT_URL_LAMBDA` of every function). */
  get endpoint(): string {
    return this.server.endpoint;
  }

  private warn(message: string): void {
    this.log({ kind: 'runner', level: 'warn', message });
  }

  /** Hosts a function; its workers start on the first invocation, or now with the `prewarm` option. */
  register(definition: FunctionDefinition): void {
    if (this.stopping !== undefined) throw new RunnerStoppedError(`registering ${definition.name}`);
    if (!definition.runtime.startsWith('nodejs')) {
      throw new FunctionDefinitionError(
        definition.name,
        `runtime ${definition.runtime} cannot run locally; the local Lambda runner hosts Node.js functions only`,
      );
    }
    if (this.pools.has(definition.name)) {
      throw new FunctionDefinitionError(definition.name, 'a function with this name is already registered');
    }
    if (!(definition.timeoutSeconds > 0)) {
      throw new FunctionDefinitionError(
        definition.name,
        `timeout must be > 0 seconds, got ${definition.timeoutSeconds}`,
      );
    }
    const runtimeDirectory = this.options.runtimeModulesDirectory ?? dirname(fileURLToPath(import.meta.url));
    this.pools.set(
      definition.name,
      new FunctionPool(definition, {
        workerCode: this.workerCode,
        env: this.environmentOf(definition),
        runtimeModulesFrom: pathToFileURL(`${runtimeDirectory}/noop.js`).href,
        defaultConcurrency: this.options.defaultConcurrency ?? 4,
        globalSlots: this.globalSlots,
        initTimeoutMs: this.options.initTimeoutMs ?? 10_000,
        onLog: (line) => {
          if (this.metrics.accept(line.functionName, line.line)) return;
          this.log({ kind: 'function', ...line });
        },
        onResult: (result) => {
          const outcome = result.ok ? 'ok' : `${result.error.errorType}: ${result.error.errorMessage}`;
          this.log({
            kind: 'runner',
            level: 'info',
            message: `REPORT ${result.functionName} RequestId: ${result.requestId} Duration: ${result.durationMs} ms${result.coldStart ? ' (cold start)' : ''} ${outcome}`,
          });
        },
      }),
    );
    const pool = this.pools.get(definition.name);
    if (pool !== undefined && (this.options.prewarm ?? 0) > 0) {
      this.prewarmQueue.push({ pool, environments: 1 });
      this.pumpPrewarm();
    }
  }

  /**
   * Loads the queued prewarm environments a few at a time (one per core), breadth first: every
   * function gets its first environment, in registration order, before any gets its second.
   */
  private pumpPrewarm(): void {
    const wanted = this.options.prewarm ?? 0;
    while (this.prewarming.size < PREWARM_AT_ONCE && this.stopping === undefined) {
      const next = this.prewarmQueue.shift();
      if (next === undefined) return;
      const { pool, environments } = next;
      const started = Date.now();
      const loading = pool
        .prewarm(environments)
        .then((count) => {
          if (count > 0) {
            this.log({
              kind: 'runner',
              level: 'info',
              message: `PREWARM ${pool.definition.name}: environment ${environments} loaded in ${Date.now() - started} ms`,
            });
          }
          if (environments < Math.min(wanted, pool.concurrencyLimit)) {
            this.prewarmQueue.push({ pool, environments: environments + 1 });
          }
        })
        .finally(() => {
          this.prewarming.delete(loading);
          this.pumpPrewarm();
        });
      this.prewarming.add(loading);
    }
  }

  /** Resolves once every prewarmed execution environment has loaded (or failed to). */
  async warmed(): Promise<void> {
    while (this.prewarming.size > 0) await Promise.all([...this.prewarming]);
    await Promise.all([...this.pools.values()].map((pool) => pool.warmed()));
  }

  /** The environment a function's worker sees: its own variables plus what points it at the local cloud. */
  environmentOf(definition: FunctionDefinition): Record<string, string> {
    const { cloud } = this.options;
    const credentials = this.options.credentialsFor?.(definition) ?? LOCAL_CREDENTIALS;
    return {
      ...definition.environment,
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      LANG: 'en_US.UTF-8',
      AWS_REGION: cloud.region,
      AWS_DEFAULT_REGION: cloud.region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...('sessionToken' in credentials && credentials.sessionToken !== undefined
        ? { AWS_SESSION_TOKEN: credentials.sessionToken }
        : {}),
      AWS_ENDPOINT_URL: cloud.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: this.server.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: definition.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(definition.memorySizeMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${definition.name}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_EXECUTION_ENV: `AWS_Lambda_${definition.runtime}`,
      LAMBDA_TASK_ROOT: definition.codeDirectory,
      _HANDLER: definition.handler,
    };
  }

  private poolOf(target: string): FunctionPool {
    if (this.stopping !== undefined) throw new RunnerStoppedError(`invoking ${target}`);
    const match = LAMBDA_ARN.exec(target) ?? PARTIAL_ARN.exec(target);
    const [name, qualifier] = match !== null ? [match[1], match[2]] : target.split(':', 2);
    const pool = name === undefined ? undefined : this.pools.get(name);
    if (pool === undefined || (qualifier !== undefined && qualifier !== '$LATEST')) {
      throw new FunctionNotFoundError(
        qualifier !== undefined && pool !== undefined
          ? `${target} (only $LATEST exists locally; versions and aliases are not emulated)`
          : target,
      );
    }
    return pool;
  }

  /** Whether a function with this name or ARN is hosted. */
  has(target: string): boolean {
    try {
      this.poolOf(target);
      return true;
    } catch {
      return false;
    }
  }

  /** The ARN of a hosted function, by name or ARN. */
  functionArn(target: string): string {
    return this.poolOf(target).definition.arn;
  }

  /** Invokes a function synchronously (RequestResponse) and returns its result or error. */
  invoke(target: string, event: unknown): Promise<InvocationResult> {
    return this.poolOf(target).invoke(JSON.stringify(event ?? null));
  }

  /**
   * Invokes a function asynchronously (Event): returns the request ID at once; failures are retried
   * and finally sent to the function's DeadLetterConfig target (or reported as dropped).
   */
  invokeAsync(target: string, event: unknown): string {
    return this.invokeAsyncText(target, JSON.stringify(event ?? null));
  }

  private invokeAsyncText(target: string, payload: string): string {
    const pool = this.poolOf(target);
    if (pool.concurrencyLimit === 0) throw new FunctionThrottledError(pool.definition.name);
    const requestId = randomUUID();
    const running = this.runAsync(pool, payload, requestId);
    this.asyncInFlight.add(running);
    void running.finally(() => this.asyncInFlight.delete(running));
    return requestId;
  }

  private async runAsync(pool: FunctionPool, payload: string, requestId: string): Promise<void> {
    const retries = pool.definition.maximumRetryAttempts ?? 2;
    let last: InvocationResult | undefined;
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (attempt > 0 && !(await this.sleep(this.retryDelayMs(attempt)))) return;
      try {
        last = await pool.invoke(payload, requestId);
      } catch (error) {
        if (error instanceof RunnerStoppedError) return;
        this.warn(
          `asynchronous invocation ${requestId} of ${pool.definition.name} failed: ${messageOf(error)}`,
        );
        return;
      }
      if (last.ok) return;
    }
    if (last !== undefined && !last.ok && this.stopping === undefined) {
      await this.deadLetter(pool.definition, payload, last, undefined);
    }
  }

  private retryDelayMs(retry: number): number {
    const delays = this.options.asyncRetryDelaysSeconds ?? [1, 2];
    return (delays[Math.min(retry - 1, delays.length - 1)] ?? 0) * 1000;
  }

  /** Waits `ms`; resolves false when the runner stops first. */
  private sleep(ms: number): Promise<boolean> {
    const signal = this.stopSignal.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Sends a failed asynchronous event where AWS would: the DLQ target, else a fallback queue, else a warning. */
  private async deadLetter(
    definition: FunctionDefinition,
    payload: string,
    result: InvocationResult,
    fallbackQueueUrl: string | undefined,
  ): Promise<void> {
    const reason = result.ok ? 'unknown' : `${result.error.errorType}: ${result.error.errorMessage}`;
    const attributes = {
      RequestID: { DataType: 'String', StringValue: result.requestId },
      ErrorCode: { DataType: 'Number', StringValue: '200' },
      ErrorMessage: { DataType: 'String', StringValue: reason.slice(0, 1000) },
    };
    const target = definition.deadLetterTargetArn;
    try {
      if (target?.startsWith('arn:aws:sqs:')) {
        await this.sqs.send(
          new SendMessageCommand({
            QueueUrl: this.queueUrlOf(target),
            MessageBody: payload,
            MessageAttributes: attributes,
          }),
        );
        this.warn(
          `${definition.name}: asynchronous event ${result.requestId} failed every attempt (${reason}); sent to its dead-letter queue ${target}`,
        );
        return;
      }
      if (target?.startsWith('arn:aws:sns:')) {
        await this.sns.send(
          new PublishCommand({ TopicArn: target, Message: payload, MessageAttributes: attributes }),
        );
        this.warn(
          `${definition.name}: asynchronous event ${result.requestId} failed every attempt (${reason}); published to its dead-letter topic ${target}`,
        );
        return;
      }
      if (fallbackQueueUrl !== undefined) {
        await this.sqs.send(
          new SendMessageCommand({
            QueueUrl: fallbackQueueUrl,
            MessageBody: payload,
            MessageAttributes: {
              ...attributes,
              FunctionName: { DataType: 'String', StringValue: definition.name },
            },
          }),
        );
        this.warn(
          `${definition.name}: SNS notification ${result.requestId} failed every attempt (${reason}); kept in the hidden dead-letter queue ${fallbackQueueUrl}`,
        );
        return;
      }
      this.warn(
        `${definition.name}: asynchronous event ${result.requestId} failed every attempt (${reason}) and was dropped (the function has no DeadLetterConfig)`,
      );
    } catch (error) {
      this.warn(`${definition.name}: could not dead-letter event ${result.requestId}: ${messageOf(error)}`);
    }
  }

  /** moto's URL of a queue, from its ARN. */
  queueUrlOf(queueArn: string): string {
    const parts = queueArn.split(':');
    const account = parts[4];
    const name = parts[5];
    if (parts.length !== 6 || account === undefined || name === undefined || parts[2] !== 'sqs') {
      throw new FunctionDefinitionError('-', `"${queueArn}" is not an SQS queue ARN`);
    }
    return `${this.options.cloud.endpoint}/${account}/${name}`;
  }

  /** Starts polling an SQS queue for a function (an AWS::Lambda::EventSourceMapping). */
  addSqsEventSource(definition: SqsEventSourceDefinition): void {
    const pool = this.poolOf(definition.functionName);
    if (pool.concurrencyLimit === 0 && definition.enabled) {
      this.warn(
        `${pool.definition.name} has reserved concurrency 0: its event source ${definition.queueArn} is throttled and not polled, as on AWS`,
      );
    }
    // No pollers for a throttled function; otherwise at least one, at most its concurrency.
    const pollers =
      pool.concurrencyLimit === 0
        ? 0
        : Math.max(
            1,
            Math.min(
              pool.concurrencyLimit,
              definition.maximumConcurrency ?? Number.POSITIVE_INFINITY,
              this.options.pollersPerEventSource ?? 2,
            ),
          );
    const source = new SqsEventSource(definition, {
      sqs: this.sqs,
      region: this.options.cloud.region,
      pollers,
      waitSeconds: this.options.pollWaitSeconds ?? 1,
      invoke: (event) => pool.invoke(JSON.stringify(event)),
      warn: (message) => this.warn(message),
      ...(this.options.queueActivity !== undefined ? { activity: this.options.queueActivity } : {}),
      windowSpeedUp: this.options.batchingWindowSpeedUp ?? 1,
    });
    this.sqsSources.push(source);
    source.start();
  }

  private hiddenDeadLetterQueue(): Promise<string> {
    this.hiddenDeadLetterQueueUrl ??= this.sqs
      .send(
        new CreateQueueCommand({
          QueueName: 'plugboard-local-sns-dlq',
          Attributes: { MessageRetentionPeriod: '1209600' },
        }),
      )
      .then((response) => {
        if (response.QueueUrl === undefined)
          throw new Error('moto returned no URL for plugboard-local-sns-dlq');
        return response.QueueUrl;
      });
    return this.hiddenDeadLetterQueueUrl;
  }

  /** Subscribes a function to an SNS topic through a hidden SQS queue (an SNS subscription with protocol lambda). */
  async addSnsSubscription(
    definition: Omit<
      SnsSubscriptionDefinition,
      'functionArn' | 'functionTimeoutSeconds' | 'maximumRetryAttempts'
    >,
  ): Promise<SnsSubscriptionInfo> {
    const pool = this.poolOf(definition.functionName);
    const fn = pool.definition;
    const subscription = await SnsSubscription.create(
      {
        ...definition,
        functionName: fn.name,
        functionArn: fn.arn,
        functionTimeoutSeconds: fn.timeoutSeconds,
        maximumRetryAttempts: fn.maximumRetryAttempts ?? 2,
      },
      {
        sqs: this.sqs,
        sns: this.sns,
        waitSeconds: this.options.pollWaitSeconds ?? 1,
        pollers: 1,
        concurrency: pool.concurrencyLimit,
        retryDelaysSeconds: this.options.asyncRetryDelaysSeconds ?? [1, 2],
        invoke: (event: SnsEvent) => pool.invoke(JSON.stringify(event)),
        deadLetter: async (event, result) => {
          const fallback =
            fn.deadLetterTargetArn === undefined ? await this.hiddenDeadLetterQueue() : undefined;
          await this.deadLetter(fn, JSON.stringify(event), result, fallback);
        },
        warn: (message) => this.warn(message),
      },
    );
    this.snsSubscriptionsList.push(subscription);
    return subscription.info;
  }

  /** Starts the timer of a schedule rule (`rate(...)`; `cron(...)` throws UnsupportedScheduleError). */
  addSchedule(definition: ScheduleDefinition, targets: readonly ScheduleTarget[]): void {
    for (const target of targets) this.checkTarget(definition.ruleName, target);
    const timer = new ScheduleTimer(definition, this.options.scheduleSpeedUp ?? 1, () => {
      this.fireTargets(definition, targets).catch((error: unknown) =>
        this.warn(`schedule ${definition.ruleName}: ${messageOf(error)}`),
      );
    });
    this.timers.push({ timer, targets });
    timer.start();
  }

  private checkTarget(ruleName: string, target: ScheduleTarget): void {
    if (target.arn.startsWith('arn:aws:lambda:')) {
      this.poolOf(target.arn);
      return;
    }
    if (target.arn.startsWith('arn:aws:sqs:') || target.arn.startsWith('arn:aws:sns:')) return;
    throw new FunctionDefinitionError(
      ruleName,
      `schedule target ${target.id} (${target.arn}) is not a Lambda function, SQS queue or SNS topic; the local cloud delivers schedules to those only`,
    );
  }

  /** Fires a schedule rule now, as its timer would. */
  async fireSchedule(ruleName: string): Promise<void> {
    const entry = this.timers.find((candidate) => candidate.timer.definition.ruleName === ruleName);
    if (entry === undefined) throw new FunctionNotFoundError(`schedule rule ${ruleName}`);
    await this.fireTargets(entry.timer.definition, entry.targets);
  }

  private async fireTargets(
    definition: ScheduleDefinition,
    targets: readonly ScheduleTarget[],
  ): Promise<void> {
    const { region, accountId } = this.options.cloud;
    for (const target of targets) {
      const payload =
        target.input ?? JSON.stringify(scheduledEvent(definition.ruleArn, region, accountId, new Date()));
      if (target.arn.startsWith('arn:aws:lambda:')) {
        this.invokeAsyncText(target.arn, payload);
      } else if (target.arn.startsWith('arn:aws:sqs:')) {
        await this.sqs.send(
          new SendMessageCommand({ QueueUrl: this.queueUrlOf(target.arn), MessageBody: payload }),
        );
      } else {
        await this.sns.send(new PublishCommand({ TopicArn: target.arn, Message: payload }));
      }
    }
  }

  /**
   * Stops hosting a function (a destroyed stack's): its execution environments stop after their
   * invocations in flight; a later `register` of the same name starts afresh. False when not hosted.
   * Its event sources, subscriptions and schedules are removed by their own methods first.
   */
  async unregister(name: string): Promise<boolean> {
    const pool = this.pools.get(name);
    if (pool === undefined) return false;
    this.pools.delete(name);
    await pool.stop();
    return true;
  }

  /** Stops polling an event source mapping (by its UUID). False when there is none. */
  async removeSqsEventSource(uuid: string): Promise<boolean> {
    const index = this.sqsSources.findIndex((source) => source.definition.uuid === uuid);
    const source = this.sqsSources[index];
    if (source === undefined) return false;
    this.sqsSources.splice(index, 1);
    await source.stop();
    return true;
  }

  /**
   * Removes a lambda-protocol SNS subscription (by its ARN): unsubscribes its hidden queue on moto,
   * stops its poller and deletes the queue. False when the runner holds no such subscription.
   */
  async removeSnsSubscription(subscriptionArn: string): Promise<boolean> {
    const index = this.snsSubscriptionsList.findIndex((s) => s.info.subscriptionArn === subscriptionArn);
    const subscription = this.snsSubscriptionsList[index];
    if (subscription === undefined) return false;
    this.snsSubscriptionsList.splice(index, 1);
    await this.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscriptionArn }));
    await subscription.stop();
    await this.sqs.send(new DeleteQueueCommand({ QueueUrl: subscription.info.queueUrl }));
    return true;
  }

  /** Stops a schedule rule's timer. False when there is none. */
  removeSchedule(ruleName: string): boolean {
    const index = this.timers.findIndex((entry) => entry.timer.definition.ruleName === ruleName);
    const entry = this.timers[index];
    if (entry === undefined) return false;
    this.timers.splice(index, 1);
    entry.timer.stop();
    return true;
  }

  /** Every hosted function's definition. */
  functions(): FunctionDefinition[] {
    return [...this.pools.values()].map((pool) => pool.definition);
  }

  eventSourceMappings(): (SqsEventSourceDefinition & { readonly stats: SqsEventSourceStats })[] {
    return this.sqsSources.map((source) => ({ ...source.definition, stats: source.stats() }));
  }

  snsSubscriptions(): SnsSubscriptionInfo[] {
    return this.snsSubscriptionsList.map((subscription) => subscription.info);
  }

  schedules(): ScheduleInfo[] {
    return this.timers.map(({ timer, targets }) => ({
      ...timer.definition,
      targets,
      intervalMs: timer.intervalMs,
      fired: timer.fired,
    }));
  }

  stats(target: string): FunctionStats {
    return this.poolOf(target).stats();
  }

  /** EMF documents the functions logged (most recent last, at most 1000). */
  emfDocuments(functionName?: string): EmfDocument[] {
    return this.metrics.recent(functionName);
  }

  /** Puts the EMF metrics still gathering into CloudWatch and waits until they are stored. */
  flushMetrics(): Promise<void> {
    return this.metrics.flush();
  }

  /** Waits for forwarded metrics and for asynchronous invocations in flight (including their retries). */
  async settle(): Promise<void> {
    await Promise.all([...this.asyncInFlight]);
    await this.metrics.flush();
  }

  /** Stops pollers, timers, workers and the Invoke endpoint. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopSignal.abort();
    this.prewarmQueue.length = 0;
    for (const { timer } of this.timers) timer.stop();
    const pollers = [...this.sqsSources, ...this.snsSubscriptionsList].map((source) => source.stop());
    this.globalSlots.close();
    await Promise.all([...this.pools.values()].map((pool) => pool.stop()));
    await Promise.all(pollers);
    await Promise.all([...this.asyncInFlight]);
    await this.metrics.flush();
    await this.server.close();
  }
}

function printer(verbose: boolean): (entry: RunnerLogEntry) => void {
  return (entry) => {
    if (entry.kind === 'function') {
      if (verbose) process.stderr.write(`[${entry.functionName}] ${entry.line}\n`);
      return;
    }
    if (verbose || entry.level === 'warn')
      process.stderr.write(`[local-cloud] ${entry.level}: ${entry.message}\n`);
  };
}
