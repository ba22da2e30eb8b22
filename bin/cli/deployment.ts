/**
 * Resolves the deployment the CLI talks to: its CloudFormation exports (the plugin API of
 * docs/exports.md) and SDK clients pointed at AWS or at the local cloud.
 *
 * - AWS: `ListExports` (all pages) keeps the exports of `<system>-<stage>-…`; credentials and region
 *   come from the default chain (`--region` overrides).
 * - Local (`--local`, or `AWS_ENDPOINT_URL` set): the local cloud's state file gives the endpoints and
 *   the exports; DynamoDB, SQS, SNS and CloudWatch go to `endpoint`, Lambda Invoke to `lambdaEndpoint`.
 *
 * Stage inbox URLs come from the `<p>-<activity>-<stage>-inbox-url` exports, so the CLI's command bus
 * sends exactly where the engine does.
 */
import { CloudFormationClient, ListExportsCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambdas/adapters/ddb-client.js';
import { DynamoRegistry } from '../../lambdas/adapters/dynamo-registry.js';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import { EventBridgePublisher } from '../../lambdas/adapters/event-bridge-publisher.js';
import { FanOutEventPublisher } from '../../lambdas/adapters/fan-out-event-publisher.js';
import { SnsEventPublisher } from '../../lambdas/adapters/sns-event-publisher.js';
import {
  type DeploymentRef,
  EXPORTS,
  eventSource,
  STAGE_NAMES,
  type StageName,
} from '../../lambdas/contracts/index.js';
import type { EventPublisher } from '../../lambdas/engine/ports.js';
import { DeploymentError } from './errors.js';
import { loadLocalState } from './local-state.js';

export interface GlobalOptions {
  readonly stage: string;
  readonly system: string;
  readonly region?: string;
  readonly local?: boolean;
  readonly json?: boolean;
  readonly debug?: boolean;
  /** `--api [url]`: talk to the HTTP API (true: the local cloud's, with --local). */
  readonly api?: string | boolean;
  /** `--token <jwt>`: a bearer token for an API with the JWT authorizer. */
  readonly token?: string;
  /** Whether --stage / --system were given (flag or environment) rather than defaulted. */
  readonly explicit?: { readonly stage: boolean; readonly system: boolean };
}

type Env = Readonly<Record<string, string | undefined>>;

interface ClientConfig {
  readonly region?: string;
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export class Deployment {
  private storeInstance?: DynamoStatusStore;
  private registryInstance?: DynamoRegistry;
  private documentClient?: DynamoDBDocumentClient;
  private sqsClient?: SQSClient;
  private snsClient?: SNSClient;
  private lambdaClient?: LambdaClient;
  private cloudwatchClient?: CloudWatchClient;

  constructor(
    readonly ref: DeploymentRef,
    readonly mode: 'aws' | 'local',
    readonly exports: Readonly<Record<string, string>>,
    private readonly config: ClientConfig,
    private readonly lambdaConfig: ClientConfig,
  ) {}

  /** The value of one export, or an error naming it and how to check the deployment. */
  exportValue(name: string): string {
    const value = this.exports[name];
    if (value === undefined || value === '') {
      const where =
        this.mode === 'local'
          ? 'the local cloud has not deployed it (is the app deployed to the local cloud?)'
          : `no stack of ${this.ref.systemName}-${this.ref.stage} exports it in this account and region (check --stage, --system and --region)`;
      throw new DeploymentError(`Export "${name}" not found: ${where}.`);
    }
    return value;
  }

  get tableName(): string {
    return this.exportValue(EXPORTS.statusTableName(this.ref));
  }

  get startFunctionName(): string {
    return this.exportValue(EXPORTS.startFunctionName(this.ref));
  }

  get eventsTopicArn(): string {
    return this.exportValue(EXPORTS.eventsTopicArn(this.ref));
  }

  /**
   * Where an operator's lifecycle events go (a cancel's `run.cancelled`): the events topic, and the
   * EventBridge bus too when the deployment exports one (`events.eventBridge`), as the orchestrators do.
   */
  get events(): EventPublisher {
    const sns = new SnsEventPublisher(this.eventsTopicArn, this.sns);
    const bus = this.exports[EXPORTS.eventBusName(this.ref)];
    if (bus === undefined || bus === '') return sns;
    const eventBridge = new EventBridgePublisher({
      eventBusName: bus,
      source: eventSource(this.ref),
      client: new EventBridgeClient({ ...this.config, maxAttempts: 3 }),
    });
    return new FanOutEventPublisher([
      { name: 'sns', publisher: sns },
      { name: 'eventbridge', publisher: eventBridge },
    ]);
  }

  /** The inbox URL of one activity stage (for the command bus). */
  inboxUrl = (activity: string, stage: StageName): string =>
    this.exportValue(EXPORTS.inboxUrl(this.ref, activity, stage));

  /** The deployed activities, read from the names of their inbox exports. */
  activities(): string[] {
    const prefix = `${this.ref.systemName}-${this.ref.stage}-`;
    const found = new Set<string>();
    for (const name of Object.keys(this.exports)) {
      if (!name.startsWith(prefix)) continue;
      for (const stage of STAGE_NAMES) {
        const suffix = `-${stage}-inbox-url`;
        if (name.endsWith(suffix)) found.add(name.slice(prefix.length, -suffix.length));
      }
    }
    return [...found].sort();
  }

  get store(): DynamoStatusStore {
    this.storeInstance ??= new DynamoStatusStore({ tableName: this.tableName, client: this.ddb });
    return this.storeInstance;
  }

  get registry(): DynamoRegistry {
    this.registryInstance ??= new DynamoRegistry({ tableName: this.tableName, client: this.ddb });
    return this.registryInstance;
  }

  get ddb(): DynamoDBDocumentClient {
    this.documentClient ??= createDocumentClient({ ...this.config, maxAttempts: 3 });
    return this.documentClient;
  }

  get sqs(): SQSClient {
    this.sqsClient ??= new SQSClient({ ...this.config, maxAttempts: 3 });
    return this.sqsClient;
  }

  get sns(): SNSClient {
    this.snsClient ??= new SNSClient({ ...this.config, maxAttempts: 3 });
    return this.snsClient;
  }

  get lambda(): LambdaClient {
    this.lambdaClient ??= new LambdaClient({ ...this.lambdaConfig, maxAttempts: 1 });
    return this.lambdaClient;
  }

  /** CloudWatch, for the metrics the handlers emit (EMF) and the metrics function puts. */
  get cloudwatch(): CloudWatchClient {
    this.cloudwatchClient ??= new CloudWatchClient({ ...this.config, maxAttempts: 3 });
    return this.cloudwatchClient;
  }

  /** Closes the clients' sockets so the process can exit promptly. */
  destroy(): void {
    this.documentClient?.destroy();
    this.sqsClient?.destroy();
    this.snsClient?.destroy();
    this.lambdaClient?.destroy();
    this.cloudwatchClient?.destroy();
  }
}

/** Whether the CLI talks to the local cloud: `--local`, or `AWS_ENDPOINT_URL` is set. */
export function isLocal(options: Pick<GlobalOptions, 'local'>, env: Env = process.env): boolean {
  return options.local === true || Boolean(env.AWS_ENDPOINT_URL);
}

export async function resolveDeployment(options: GlobalOptions, env: Env = process.env): Promise<Deployment> {
  if (isLocal(options, env)) {
    const state = await loadLocalState(env);
    const ref = localRef(options, state.exports);
    const credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID || 'local',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY || 'local',
    };
    const region = options.region ?? state.region;
    return new Deployment(
      ref,
      'local',
      state.exports,
      { region, endpoint: state.endpoint, credentials },
      {
        region,
        endpoint: state.lambdaEndpoint ?? env.AWS_ENDPOINT_URL_LAMBDA ?? state.endpoint,
        credentials,
      },
    );
  }
  const ref: DeploymentRef = { systemName: options.system, stage: options.stage };
  const config: ClientConfig = options.region ? { region: options.region } : {};
  const exports = await listExports(new CloudFormationClient(config), `${ref.systemName}-${ref.stage}-`);
  if (Object.keys(exports).length === 0) {
    throw new DeploymentError(
      `No exports named ${ref.systemName}-${ref.stage}-… in this account and region: is Plugboard deployed with --context stage=${ref.stage}? Check --stage, --system, --region and your AWS credentials, or use --local.`,
    );
  }
  return new Deployment(ref, 'aws', exports, config, config);
}

const TABLE_EXPORT_SUFFIX = '-status-table-name';

/**
 * The deployment of the local cloud: --stage/--system when given; otherwise, when the local cloud holds
 * exactly one Plugboard deployment (one `<system>-<stage>-status-table-name` export), that one (a
 * deployment stage has no hyphen, so the name splits at its last one).
 */
export function localRef(options: GlobalOptions, exports: Readonly<Record<string, string>>): DeploymentRef {
  const requested: DeploymentRef = { systemName: options.system, stage: options.stage };
  if (options.explicit?.stage && options.explicit.system) return requested;
  if (exports[EXPORTS.statusTableName(requested)] !== undefined) return requested;
  const candidates = Object.keys(exports)
    .filter((name) => name.endsWith(TABLE_EXPORT_SUFFIX))
    .map((name) => {
      const prefix = name.slice(0, -TABLE_EXPORT_SUFFIX.length);
      const cut = prefix.lastIndexOf('-');
      return { systemName: prefix.slice(0, cut), stage: prefix.slice(cut + 1) };
    })
    .filter(
      (ref) =>
        ref.systemName !== '' &&
        (!options.explicit?.stage || ref.stage === options.stage) &&
        (!options.explicit?.system || ref.systemName === options.system),
    );
  const [only] = candidates;
  return candidates.length === 1 && only ? only : requested;
}

/** Every export whose name starts with `prefix` (ListExports, all pages). */
export async function listExports(
  client: CloudFormationClient,
  prefix: string,
): Promise<Record<string, string>> {
  const exports: Record<string, string> = {};
  let nextToken: string | undefined;
  try {
    do {
      const page = await client.send(new ListExportsCommand(nextToken ? { NextToken: nextToken } : {}));
      for (const entry of page.Exports ?? []) {
        if (entry.Name?.startsWith(prefix) && entry.Value !== undefined) exports[entry.Name] = entry.Value;
      }
      nextToken = page.NextToken;
    } while (nextToken);
  } finally {
    client.destroy();
  }
  return exports;
}
