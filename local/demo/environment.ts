/**
 * The demo environment: a local cloud with the Plugboard app and the example plugins deployed, plus
 * what `npm start` and the end-to-end tests do with it (start a run, read a run, wait for it).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import type { RunSnapshot } from '../../lambdas/engine/records.js';
import { EXPORTS, FINAL_RUN_STATES, type RunState } from '../../plugin-kit/src/index.js';
import { LocalCloud, type LocalCloudOptions } from '../local-cloud.js';
import type { DemoAssemblies } from './synth-cache.js';

export const DEMO_WORKFLOW = 'order';

export interface StartRunRequest {
  readonly uid: string;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly rerun?: boolean;
}

/** What the start function answers (see lambdas/handlers/start.ts). */
export interface StartAnswer {
  readonly ok: boolean;
  readonly outcome?: string;
  readonly run?: { readonly generation: number; readonly state: string };
  readonly error?: { readonly type: string; readonly message: string };
}

export class DemoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface DemoEnvironmentOptions extends LocalCloudOptions {
  readonly stage: string;
  readonly systemName?: string;
}

export class DemoEnvironment {
  private readonly dynamo: DynamoDBClient;
  readonly store: DynamoStatusStore;
  readonly cloudwatch: CloudWatchClient;

  private constructor(
    readonly local: LocalCloud,
    readonly stage: string,
    readonly systemName: string,
  ) {
    this.dynamo = new DynamoDBClient(local.clientConfig());
    const deployment = { stage, systemName };
    const tableName = local.exports()[EXPORTS.statusTableName(deployment)];
    if (tableName === undefined) throw new DemoError('the core stack exported no status table name');
    this.store = new DynamoStatusStore({ tableName, client: DynamoDBDocumentClient.from(this.dynamo) });
    this.cloudwatch = new CloudWatchClient(local.clientConfig());
  }

  /** Starts a local cloud and deploys both assemblies (the app first: the plugins import its exports). */
  static async start(
    assemblies: Pick<DemoAssemblies, 'app' | 'examples'>,
    options: DemoEnvironmentOptions,
    onPhase: (phase: string, ms: number) => void = () => {},
  ): Promise<DemoEnvironment> {
    let started = performance.now();
    const lap = (phase: string) => {
      const now = performance.now();
      onPhase(phase, now - started);
      started = now;
    };
    const local = await LocalCloud.start(options);
    lap('local cloud started');
    try {
      await local.deploy(assemblies.app);
      lap('Plugboard deployed');
      await local.deploy(assemblies.examples);
      lap('example plugins deployed');
      return new DemoEnvironment(local, options.stage, options.systemName ?? 'plugboard');
    } catch (error) {
      await local.stop();
      throw error;
    }
  }

  /** Starts (or re-runs) a run through the start function, synchronously; throws when it refuses. */
  async startRun(request: StartRunRequest): Promise<StartAnswer> {
    const name =
      this.local.exports()[EXPORTS.startFunctionName({ stage: this.stage, systemName: this.systemName })];
    if (name === undefined) throw new DemoError('the core stack exported no start function name');
    const result = await this.local.invoke(name, {
      workflow: DEMO_WORKFLOW,
      uid: request.uid,
      metadata: request.metadata ?? {},
      ...(request.rerun ? { rerun: true } : {}),
    });
    if (!result.ok) {
      throw new DemoError(
        `the start function failed: ${result.error.errorType}: ${result.error.errorMessage}`,
      );
    }
    const answer = result.payload as StartAnswer;
    if (!answer.ok)
      throw new DemoError(`the run ${request.uid} was refused: ${answer.error?.message ?? 'no reason'}`);
    return answer;
  }

  /** One consistent read of a run with its stages and plugins. */
  readRun(uid: string): Promise<RunSnapshot | undefined> {
    return this.store.readRun({ workflow: DEMO_WORKFLOW, uid });
  }

  /** Polls until the run is finished (Complete, Error, Cancelled) in at least `generation`. */
  async waitForRun(
    uid: string,
    options: { readonly timeoutMs?: number; readonly generation?: number; readonly intervalMs?: number } = {},
  ): Promise<RunSnapshot> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    let last: RunSnapshot | undefined;
    while (Date.now() < deadline) {
      last = await this.readRun(uid);
      if (last && last.run.generation >= (options.generation ?? 1) && isFinished(last.run.state)) return last;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
    }
    throw new DemoError(
      `run ${uid} did not finish within ${options.timeoutMs ?? 30_000} ms (state ${last?.run.state ?? 'not created'})`,
    );
  }

  async stop(): Promise<void> {
    this.dynamo.destroy();
    this.cloudwatch.destroy();
    await this.local.stop();
  }
}

export function isFinished(state: RunState): boolean {
  return FINAL_RUN_STATES.includes(state);
}
