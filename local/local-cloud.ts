/**
 * The local cloud in one object: moto (started or attached), the Lambda runner and the deployer.
 *
 * ```ts
 * const local = await LocalCloud.start({ scheduleSpeedUp: 60 });
 * try {
 *   await local.deploy('cdk.out');                 // every stack, in dependency order
 *   await local.deploy('examples/cdk.out');        // more stacks, importing the first ones' exports
 *   console.log(await local.checkTopology());      // [] when the wiring matches the templates
 * } finally {
 *   await local.stop();
 * }
 * ```
 */
import { appendFileSync } from 'node:fs';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CloudAssembly } from './assembly.js';
import { AwsProxy, type ProxiedRequest } from './aws-proxy.js';
import { type AwsClientConfig, awsClientConfig, type Cloud, startCloud } from './cloud.js';
import {
  type DeployedStack,
  Deployer,
  type DeployerOptions,
  type DeployOptions,
  type DestroyedStack,
} from './deployer.js';
import { NoFunctionCredentialsError, StackNotDeployedError } from './errors.js';
import { IamEnforcer } from './iam/enforcer.js';
import { CallRecorder } from './iam/recorder.js';
import { IamRegistry, type LocalCredentials, type Principal } from './iam/registry.js';
import {
  type InvocationResult,
  LambdaRunner,
  type LambdaRunnerOptions,
  type RunnerLogEntry,
} from './lambda-runner.js';
import { arrivalOf, QueueActivity } from './runner/queue-activity.js';
import { checkTopology, type TopologyDifference } from './topology.js';

export interface LocalCloudOptions
  extends Omit<LambdaRunnerOptions, 'cloud' | 'clients' | 'queueActivity'>,
    Pick<DeployerOptions, 'customResourceTimeoutMs' | 'parameters' | 'log'> {
  /** Attach to this emulator instead of starting moto. @default - `AWS_ENDPOINT_URL`, else start moto_server */
  readonly endpoint?: string;
  /**
   * An emulator already started with `startCloud()` (e.g. while the caller was still loading its
   * modules): used instead of starting one, and stopped by `stop()` as if the local cloud had started
   * it. `endpoint`, `env`, `motoCommand` and `handleSignals` then do not apply to it.
   * @default - started (or attached) here
   */
  readonly cloud?: Cloud;
  /** Where `AWS_ENDPOINT_URL` is read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Stop moto on SIGINT/SIGTERM and at exit. @default true */
  readonly handleSignals?: boolean;
  /** The emulator command (see StartCloudOptions.command). @default - moto without instance tracking */
  readonly motoCommand?: string;
  /**
   * Route every SDK client (runner functions, deployer, `clientConfig()`) through the AWS proxy
   * (local/aws-proxy.ts), which serializes DynamoDB requests and reports each request to `onRequest`.
   * @default true
   */
  readonly proxy?: boolean;
  /** Called for every request that goes through the proxy. */
  readonly onRequest?: (request: ProxiedRequest) => void;
  /**
   * Enforce IAM as AWS does (local/iam): every hosted function gets credentials of its own role, and
   * every request through the proxy and the Lambda Invoke endpoint is evaluated against the
   * templates' identity policies and resource policies; a denied call gets the service's
   * access-denied error. The documented dummy credentials (`testing`, `local`) act as the account's
   * administrator; unknown credentials are refused. `false` lets every call through (and says so).
   * Needs the proxy. @default true, unless the environment has `PLUGBOARD_IAM=off`
   */
  readonly iam?: boolean;
  /**
   * Called for every request IAM denied (also reported as a runner warning, and appended as a JSON
   * line to the file `PLUGBOARD_IAM_DENIALS` names, if set).
   */
  readonly onAccessDenied?: (denial: AccessDenial) => void;
}

/** A request IAM refused. */
export interface AccessDenial {
  /** The principal, when the credentials were known. */
  readonly principal: Principal | undefined;
  /** AWS's message, e.g. `User: arn:… is not authorized to perform: dynamodb:PutItem on resource: …`. */
  readonly reason: string;
}

export class LocalCloud {
  private stopping: Promise<void> | undefined;
  private readonly sns: SNSClient;
  private readonly sqs: SQSClient;

  private constructor(
    readonly cloud: Cloud,
    readonly runner: LambdaRunner,
    readonly deployer: Deployer,
    /** The AWS proxy in front of moto, unless `proxy: false`. */
    readonly proxy: AwsProxy | undefined,
    /** Roles, policies and credentials, when IAM is enforced (`iam`, the default). */
    readonly iam: IamEnforcer | undefined,
    private readonly issued: Map<string, LocalCredentials>,
  ) {
    this.sns = new SNSClient(this.clientConfig());
    this.sqs = new SQSClient(this.clientConfig());
  }

  /** Starts (or attaches to) moto, then the runner and the deployer. Cleans up what started on failure. */
  static async start(options: LocalCloudOptions = {}): Promise<LocalCloud> {
    const cloud =
      options.cloud ??
      (await startCloud({
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(options.env !== undefined ? { env: options.env } : {}),
        ...(options.motoCommand !== undefined ? { command: options.motoCommand } : {}),
        handleSignals: options.handleSignals ?? true,
      }));
    void warmUpServices(cloud.clientConfig());
    let runner: LambdaRunner | undefined;
    let proxy: AwsProxy | undefined;
    const log = options.onLog ?? defaultLog(options.verbose ?? false);
    const warn = (message: string) => log({ kind: 'runner', level: 'warn', message });
    const switchedOff = (options.env?.PLUGBOARD_IAM ?? process.env.PLUGBOARD_IAM) === 'off';
    const wanted = options.iam ?? !switchedOff;
    const proxied = options.proxy ?? true;
    const enforce = wanted && proxied;
    if (!wanted) {
      warn(
        `IAM is not enforced (${options.iam === false ? 'iam: false' : 'PLUGBOARD_IAM=off'}): every caller may do anything; functions keep their own identities, so reports still carry their sender's SenderId`,
      );
    } else if (!enforce) {
      warn('IAM is not enforced: it needs the AWS proxy, and proxy is false');
    }
    // Identities (per-function credentials, SenderId) need only the proxy; enforcement is the option.
    const registry = proxied
      ? new IamRegistry({ accountId: cloud.accountId, region: cloud.region, warn })
      : undefined;
    const onAccessDenied = options.onAccessDenied;
    const denialsFile = options.env?.PLUGBOARD_IAM_DENIALS ?? process.env.PLUGBOARD_IAM_DENIALS;
    const denied = (principal: Principal | undefined, reason: string) => {
      warn(`IAM denied: ${reason}`);
      if (denialsFile !== undefined && denialsFile !== '') {
        appendFileSync(denialsFile, `${JSON.stringify({ at: new Date().toISOString(), reason })}\n`);
      }
      onAccessDenied?.({ principal, reason });
    };
    // PLUGBOARD_IAM_RECORD=<file>: every allowed call of a function, in template terms (recorder.ts).
    const recordFile = options.env?.PLUGBOARD_IAM_RECORD ?? process.env.PLUGBOARD_IAM_RECORD;
    let deployed: () => readonly DeployedStack[] = () => [];
    const recorder =
      recordFile !== undefined && recordFile !== ''
        ? new CallRecorder(recordFile, () => deployed())
        : undefined;
    const iam =
      registry === undefined
        ? undefined
        : new IamEnforcer(registry, {
            warn,
            enforce,
            onDenied: ({ principal, reason }) => denied(principal, reason),
            ...(recorder !== undefined
              ? { onAllowed: ({ principal, checks }) => recorder.record(principal, checks) }
              : {}),
          });
    const issued = new Map<string, LocalCredentials>();
    try {
      // The proxy sees every message sent; it wakes the runner's pollers that gather a batch.
      const queueActivity = new QueueActivity();
      if (options.proxy ?? true) {
        const onRequest = options.onRequest;
        proxy = await AwsProxy.start({
          target: cloud.endpoint,
          ...(iam !== undefined ? { iam } : {}),
          onRequest: (request) => {
            const arrival = arrivalOf(request);
            if (arrival !== undefined) queueActivity.notify(arrival === '*' ? undefined : arrival);
            onRequest?.(request);
          },
        });
      }
      const endpoint = proxy?.endpoint ?? cloud.endpoint;
      const environment = { endpoint, region: cloud.region, accountId: cloud.accountId };
      runner = await LambdaRunner.start({
        ...options,
        onLog: log,
        cloud: environment,
        ...(proxy !== undefined ? { queueActivity } : {}),
        ...(iam !== undefined && registry !== undefined
          ? {
              credentialsFor: (definition) => {
                const credentials = registry.issueCredentials(definition.name, definition.roleArn);
                issued.set(definition.name, credentials);
                return credentials;
              },
              authorizeInvoke: (headers, functionArn) => iam.authorizeInvoke(headers, functionArn),
            }
          : {}),
      });
      const deployer = await Deployer.create({
        environment,
        runner,
        ...(registry !== undefined ? { iam: registry } : {}),
        ...(options.customResourceTimeoutMs !== undefined
          ? { customResourceTimeoutMs: options.customResourceTimeoutMs }
          : {}),
        ...(options.parameters !== undefined ? { parameters: options.parameters } : {}),
        ...(options.log !== undefined ? { log: options.log } : {}),
      });
      deployed = () => deployer.stacks();
      return new LocalCloud(cloud, runner, deployer, proxy, iam, issued);
    } catch (error) {
      await runner?.stop();
      await proxy?.close();
      await cloud.stop();
      throw error;
    }
  }

  /**
   * The credentials a hosted function got (its role's, with IAM enforced): use them to act as that
   * function, e.g. to show what it may not do.
   */
  credentialsOf(functionName: string): LocalCredentials {
    const credentials = this.issued.get(functionName);
    if (credentials === undefined) {
      const known = [...this.issued.keys()].join(', ') || 'none';
      throw new NoFunctionCredentialsError(
        functionName,
        this.iam === undefined
          ? 'IAM is not enforced (iam: false), so every function uses the dummy administrator credentials'
          : `no hosted function has that name (functions: ${known})`,
      );
    }
    return credentials;
  }

  /**
   * Every hosted function that has credentials of its own role, with its role ARN, role id and
   * credentials: what `plugboard --local credentials --list` would print (the CLI reads it from the
   * local state file that `npm start -- --keep` writes).
   */
  functionIdentities(): {
    readonly functionName: string;
    readonly roleArn: string;
    readonly roleId: string;
    readonly userId: string;
    readonly credentials: LocalCredentials;
  }[] {
    const identities = [];
    for (const [functionName, credentials] of this.issued) {
      const principal = this.iam?.registry.principalFor(credentials.accessKeyId, credentials.sessionToken);
      if (principal === undefined || principal.kind === 'admin') continue;
      identities.push({
        functionName,
        roleArn: principal.roleArn,
        roleId: principal.roleId,
        userId: principal.userId,
        credentials,
      });
    }
    return identities;
  }

  /** The principal a hosted function acts as (role ARN, role id, `aws:userid`), with IAM enforced. */
  identityOf(functionName: string): Principal {
    const credentials = this.credentialsOf(functionName);
    const principal = this.iam?.registry.principalFor(credentials.accessKeyId, credentials.sessionToken);
    if (principal === undefined || principal.kind === 'admin') {
      throw new NoFunctionCredentialsError(
        functionName,
        'it has no execution role, so it acts as the administrator',
      );
    }
    return principal;
  }

  /** The endpoint SDK clients and the CLI should use (`AWS_ENDPOINT_URL`): the proxy, or moto without it. */
  get endpoint(): string {
    return this.proxy?.endpoint ?? this.cloud.endpoint;
  }

  /** moto itself (for `/moto-api/...` calls, which need no proxy). */
  get motoEndpoint(): string {
    return this.cloud.endpoint;
  }

  /** The Lambda Invoke endpoint (what `AWS_ENDPOINT_URL_LAMBDA` should be). */
  get lambdaEndpoint(): string {
    return this.runner.endpoint;
  }

  /** SDK v3 client options for the emulator. */
  clientConfig(): AwsClientConfig {
    return this.proxy === undefined ? this.cloud.clientConfig() : awsClientConfig(this.proxy.endpoint);
  }

  /** Environment variables that point the AWS CLI/SDK of another process at this local cloud. */
  processEnvironment(): Record<string, string> {
    const config = this.clientConfig();
    return {
      AWS_ENDPOINT_URL: this.endpoint,
      AWS_ENDPOINT_URL_LAMBDA: this.runner.endpoint,
      AWS_REGION: config.region,
      AWS_DEFAULT_REGION: config.region,
      AWS_ACCESS_KEY_ID: config.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: config.credentials.secretAccessKey,
    };
  }

  /** Deploys a cloud assembly (see Deployer.deploy). */
  deploy(assembly: string | CloudAssembly, options: DeployOptions = {}): Promise<DeployedStack[]> {
    return this.deployer.deploy(assembly, options);
  }

  /**
   * Removes a deployed stack (see Deployer.destroyStack): its functions stop, and the credentials
   * they were given are no longer listed by `functionIdentities()`.
   */
  async destroy(stackName: string): Promise<DestroyedStack> {
    const destroyed = await this.deployer.destroyStack(stackName);
    for (const name of [...this.issued.keys()]) if (!this.runner.has(name)) this.issued.delete(name);
    return destroyed;
  }

  /** Outputs of a deployed stack. */
  outputs(stackName: string): Readonly<Record<string, unknown>> {
    const stack = this.deployer.stack(stackName);
    if (stack === undefined) throw new StackNotDeployedError(stackName);
    return stack.outputs;
  }

  /** Every export of every deployed stack. */
  exports(): Record<string, string> {
    return this.deployer.exports();
  }

  /** Invokes a hosted function synchronously. */
  invoke(functionNameOrArn: string, event: unknown): Promise<InvocationResult> {
    return this.runner.invoke(functionNameOrArn, event);
  }

  /** Differences between the deployed wiring and the templates (empty when they match). */
  checkTopology(): Promise<TopologyDifference[]> {
    return checkTopology({
      stacks: this.deployer.stacks(),
      runner: this.runner,
      sns: this.sns,
      sqs: this.sqs,
    });
  }

  /** Stops the runner, the deployer's endpoint and the emulator we started. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      try {
        await this.runner.stop();
        await this.deployer.close();
      } finally {
        this.sns.destroy();
        this.sqs.destroy();
        await this.proxy?.close();
        await this.cloud.stop();
      }
    })();
    return this.stopping;
  }
}

/** The runner's default printer, for the local cloud's own messages too. */
function defaultLog(verbose: boolean): (entry: RunnerLogEntry) => void {
  return (entry) => {
    if (entry.kind === 'function') {
      if (verbose) process.stderr.write(`[${entry.functionName}] ${entry.line}\n`);
      return;
    }
    if (verbose || entry.level === 'warn')
      process.stderr.write(`[local-cloud] ${entry.level}: ${entry.message}\n`);
  };
}

/**
 * moto loads a service's code on the service's first request (a quarter of a second for DynamoDB, a
 * tenth for the others; requests that arrive meanwhile wait). One cheap read per service the deployer
 * uses, sent to moto directly (not through the proxy, so no hook sees it) as soon as it answers, lets
 * that happen while the runner and the deployer start. Failures do not matter.
 */
async function warmUpServices(config: AwsClientConfig): Promise<void> {
  const dynamodb = new DynamoDBClient(config);
  const sqs = new SQSClient(config);
  const sns = new SNSClient(config);
  const cloudwatch = new CloudWatchClient(config);
  await Promise.allSettled([
    dynamodb.send(new ListTablesCommand({ Limit: 1 })),
    sqs.send(new ListQueuesCommand({ MaxResults: 1 })),
    sns.send(new ListTopicsCommand({})),
    cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 1 })),
  ]);
  for (const client of [dynamodb, sqs, sns, cloudwatch]) client.destroy();
}
