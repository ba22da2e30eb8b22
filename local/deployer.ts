/**
 * The local deployer: creates every resource of the synthesized templates on moto with the SDK (never
 * through moto's CloudFormation, which skips subscriptions, policies and alarms and hangs on custom
 * resources), and registers functions, event sources and schedules with the Lambda runner. Stacks
 * deploy in dependency order, resources in dependency order (independent ones in parallel); exports
 * of one stack feed `Fn::ImportValue` of the stacks deployed after it, across assemblies.
 *
 * A stack is removed with `destroyStack` (resources in reverse dependency order: custom resources get
 * their Delete request, functions stop, subscriptions and queues go), which is also how a stack is
 * updated: `deploy(…, { replace: true })` destroys a deployed stack of the same name and creates it
 * again from the new template. A failed deploy deletes what it created (newest first, as
 * CloudFormation rolls back), and the error names the stack, the resource and the reason.
 */

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, DeleteAlarmsCommand, DeleteDashboardsCommand } from '@aws-sdk/client-cloudwatch';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteEventBusCommand,
  DeleteRuleCommand,
  EventBridgeClient,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { DeleteTopicCommand, SNSClient, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type CloudAssembly, readAssembly, type StackArtifact } from './assembly.js';
import { awsClientConfig, LOCAL_PARTITION, LOCAL_URL_SUFFIX } from './cloud.js';
import { CustomResourceEndpoint } from './custom-resource-endpoint.js';
import {
  AssemblyError,
  DuplicateExportError,
  IntrinsicError,
  LocalCloudError,
  MissingImportError,
  messageOf,
  ResourceCreationError,
  StackAlreadyDeployedError,
  StackNotDeployedError,
  UnsupportedResourceError,
} from './errors.js';
import type { IamRegistry } from './iam/registry.js';
import { referencedResources, TemplateResolver } from './intrinsics.js';
import type { LambdaRunner } from './lambda-runner.js';
import { ALLOW_LIST } from './resources/allow-list.js';
import { cloudWatchAlarmProvider, cloudWatchDashboardProvider } from './resources/cloudwatch.js';
import { customResourceProvider } from './resources/custom-resource.js';
import { dynamoGlobalTableProvider, dynamoTableProvider } from './resources/dynamodb.js';
import { eventBusProvider } from './resources/event-bus.js';
import { eventsRuleProvider } from './resources/events.js';
import { eventSourceMappingProvider, lambdaFunctionProvider } from './resources/lambda.js';
import { type IgnoredProperty, isRecord, PropertyReader } from './resources/properties.js';
import type {
  AwsClients,
  CreatedResource,
  LocalEnvironment,
  ResourceProvider,
} from './resources/provider.js';
import { arn as resourceArn } from './resources/provider.js';
import { snsSubscriptionProvider, snsTopicProvider } from './resources/sns.js';
import { sqsQueueProvider } from './resources/sqs.js';

export interface DeployedResource {
  readonly logicalId: string;
  readonly type: string;
  /** What `Ref` returns. */
  readonly physicalId: string;
  /** What `Fn::GetAtt` returns. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The resolved properties (undefined for allow-listed types, whose properties are not read). */
  readonly properties: Readonly<Record<string, unknown>> | undefined;
  /** Set for allow-listed types: why nothing was created. */
  readonly allowListedBecause?: string;
  /** Properties accepted without effect, with the reason. */
  readonly ignoredProperties: readonly IgnoredProperty[];
}

export interface DeployedStack {
  readonly stackName: string;
  readonly artifactId: string;
  readonly artifact: StackArtifact;
  readonly resources: ReadonlyMap<string, DeployedResource>;
  /** Resources left out because their Condition is false. */
  readonly skippedByCondition: readonly string[];
  /** Resolved output values by output name. */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Export name → value, as CloudFormation exports them. */
  readonly exports: Readonly<Record<string, string>>;
  /** The export names its `Fn::ImportValue`s read (a stack exporting them cannot be destroyed first). */
  readonly imports: readonly string[];
  readonly durationMs: number;
}

/** What `destroyStack` removed. */
export interface DestroyedStack {
  readonly stackName: string;
  /** Resources deleted (allow-listed ones included: nothing existed to delete). */
  readonly resources: number;
  /** The exports that are gone with it. */
  readonly exports: readonly string[];
  readonly durationMs: number;
}

/** A stack cannot be destroyed while another deployed stack imports one of its exports (as on AWS). */
export class ExportInUseError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly uses: readonly { readonly exportName: string; readonly importer: string }[],
  ) {
    super(
      `Stack ${stackName} cannot be destroyed: ${uses.map((u) => `its export "${u.exportName}" is imported by ${u.importer}`).join('; ')}. Destroy the importing stack(s) first.`,
    );
  }
}

/** Deleting a resource of a stack failed; the stack stays deployed, and destroying it again retries. */
export class ResourceDeletionError extends LocalCloudError {
  constructor(
    readonly stackName: string,
    readonly logicalId: string,
    readonly resourceType: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${stackName}/${logicalId} (${resourceType}) could not be deleted: ${detail}. The stack is still deployed; fix the cause and destroy it again.`,
      options,
    );
  }
}

export interface DeployerOptions {
  readonly environment: LocalEnvironment;
  readonly runner: LambdaRunner;
  /** SDK clients for moto; created from `environment` when omitted. */
  readonly clients?: Partial<AwsClients>;
  /** How long a custom resource may take to answer. @default 60000 */
  readonly customResourceTimeoutMs?: number;
  /** Parameter values by stack name (override template defaults). */
  readonly parameters?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Resources created at the same time within one stack. @default 8 */
  readonly concurrency?: number;
  /** Progress messages (one line per stack). @default - none */
  readonly log?: (message: string) => void;
  /** Learns the roles, policies, tags and keys of every deployed resource (IAM enforcement). */
  readonly iam?: IamRegistry;
}

export interface DeployOptions {
  /** Deploy only these stacks (stack names or artifact IDs). @default - every stack of the assembly */
  readonly stacks?: readonly string[];
  /**
   * A stack already deployed under the same name is destroyed and created again from the new
   * template (the local cloud's update), instead of failing with StackAlreadyDeployedError.
   * @default false
   */
  readonly replace?: boolean;
}

const PROVIDERS: readonly ResourceProvider[] = [
  sqsQueueProvider,
  snsTopicProvider,
  snsSubscriptionProvider,
  dynamoTableProvider,
  dynamoGlobalTableProvider,
  cloudWatchAlarmProvider,
  cloudWatchDashboardProvider,
  lambdaFunctionProvider,
  eventSourceMappingProvider,
  eventBusProvider,
  eventsRuleProvider,
  customResourceProvider,
];

/** The resource types the deployer creates (allow-listed types aside). */
export const SUPPORTED_RESOURCE_TYPES: readonly string[] = PROVIDERS.flatMap((provider) => provider.types);

function providerFor(type: string): ResourceProvider | undefined {
  if (type.startsWith('Custom::')) return customResourceProvider;
  return PROVIDERS.find((provider) => provider.types.includes(type));
}

/** Errors that already name the stack and the resource pass through unchanged. */
function namesItsResource(error: unknown): boolean {
  return error instanceof LocalCloudError && 'stackName' in error;
}

/**
 * Awaits a delete request, treating "it does not exist" as done: a destroy that failed half-way, or a
 * resource removed by hand, must not stop the next destroy.
 */
async function gone(deleting: Promise<unknown>): Promise<void> {
  try {
    await deleting;
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (/NotFound|NonExistent|DoesNotExist/i.test(name)) return;
    throw error;
  }
}

/** A stack not started because another stack of the same deploy failed. */
class SkippedStack extends Error {}

/** Every `Fn::ImportValue` argument in a template. */
function importNames(value: unknown, found: unknown[] = []): unknown[] {
  if (Array.isArray(value)) {
    for (const item of value) importNames(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === 'Fn::ImportValue') found.push(item);
      importNames(item, found);
    }
  }
  return found;
}

/**
 * The stacks each stack must wait for, among `selected` (in dependency order): its manifest
 * dependencies, the stacks that export a name it imports, and those that export a name it exports too
 * (so the second still fails with DuplicateExportError). A name that is not a literal string cannot
 * be matched before deployment: the stack then waits for every stack it might concern.
 */
function stackWaits(
  selected: readonly StackArtifact[],
  byId: ReadonlyMap<string, StackArtifact>,
): Map<StackArtifact, StackArtifact[]> {
  const waits = new Map<StackArtifact, StackArtifact[]>();
  const literalExporters = new Map<string, StackArtifact>();
  const exporters: StackArtifact[] = [];
  const opaqueExporters: StackArtifact[] = [];
  selected.forEach((stack, index) => {
    const earlier = selected.slice(0, index);
    const wait = new Set<StackArtifact>();
    for (const id of stack.dependencies) {
      const dependency = byId.get(id);
      if (dependency !== undefined && earlier.includes(dependency)) wait.add(dependency);
    }
    const imports = importNames(stack.template.Resources).concat(importNames(stack.template.Outputs ?? {}));
    const exported = Object.values(stack.template.Outputs ?? {}).flatMap((output) =>
      output.Export === undefined ? [] : [output.Export.Name],
    );
    if (imports.some((name) => typeof name !== 'string')) {
      for (const other of earlier) wait.add(other);
    }
    if (exported.some((name) => typeof name !== 'string')) {
      for (const other of exporters) wait.add(other);
    }
    for (const name of [...imports, ...exported]) {
      const exporter = typeof name === 'string' ? literalExporters.get(name) : undefined;
      if (exporter !== undefined) wait.add(exporter);
    }
    if (imports.length > 0 || exported.length > 0) for (const other of opaqueExporters) wait.add(other);
    waits.set(stack, [...wait]);
    if (exported.length > 0) exporters.push(stack);
    for (const name of exported) {
      if (typeof name === 'string') literalExporters.set(name, stack);
      else if (!opaqueExporters.includes(stack)) opaqueExporters.push(stack);
    }
  });
  return waits;
}

export class Deployer {
  private readonly deployed = new Map<string, DeployedStack>();
  private readonly exportOwners = new Map<string, { stackName: string; value: string }>();
  private readonly tempDirectories: string[] = [];
  private readonly clients: AwsClients;

  private constructor(
    private readonly options: DeployerOptions,
    private readonly customResources: CustomResourceEndpoint,
  ) {
    const config = awsClientConfig(options.environment.endpoint);
    this.clients = {
      sqs: options.clients?.sqs ?? new SQSClient(config),
      sns: options.clients?.sns ?? new SNSClient(config),
      dynamodb: options.clients?.dynamodb ?? new DynamoDBClient(config),
      cloudwatch: options.clients?.cloudwatch ?? new CloudWatchClient(config),
      events: options.clients?.events ?? new EventBridgeClient(config),
    };
  }

  /** Starts the custom-resource response endpoint. */
  static async create(options: DeployerOptions): Promise<Deployer> {
    return new Deployer(options, await CustomResourceEndpoint.start());
  }

  /** Deploys the stacks of a cloud assembly (a directory or an assembly already read), in dependency order. */
  async deploy(assembly: string | CloudAssembly, options: DeployOptions = {}): Promise<DeployedStack[]> {
    const model = typeof assembly === 'string' ? await readAssembly(assembly) : assembly;
    const wanted = options.stacks;
    const selected =
      wanted === undefined
        ? model.stacks
        : model.stacks.filter(
            (stack) => wanted.includes(stack.stackName) || wanted.includes(stack.artifactId),
          );
    if (wanted !== undefined) {
      const unknown = wanted.filter(
        (name) => !selected.some((s) => s.stackName === name || s.artifactId === name),
      );
      if (unknown.length > 0) {
        throw new AssemblyError(
          model.directory,
          `no stack named ${unknown.join(', ')} (stacks: ${model.stacks.map((s) => s.stackName).join(', ')})`,
        );
      }
    }
    const byId = new Map(model.stacks.map((stack) => [stack.artifactId, stack]));
    for (const stack of selected) {
      for (const dependency of stack.dependencies) {
        const target = byId.get(dependency);
        if (target !== undefined && !selected.includes(target) && !this.deployed.has(target.stackName)) {
          throw new AssemblyError(
            model.directory,
            `stack ${stack.stackName} depends on ${target.stackName}, which is neither deployed nor selected`,
          );
        }
      }
    }
    // Independent stacks deploy at the same time (as `cdk deploy --concurrency` does); each waits for
    // what it depends on and for the stacks whose exports it imports.
    const waits = stackWaits(selected, byId);
    const deploying = new Map<StackArtifact, Promise<DeployedStack>>();
    let failed = false;
    for (const stack of selected) {
      const before = (waits.get(stack) ?? []).map((other) => deploying.get(other));
      deploying.set(
        stack,
        Promise.all(before).then(() => {
          if (failed) throw new SkippedStack();
          return this.deployStack(stack, options).catch((error: unknown) => {
            failed = true;
            throw error;
          });
        }),
      );
    }
    // Wait for every stack in flight, then report the first failure in deployment order.
    const outcomes = await Promise.allSettled(selected.map((stack) => deploying.get(stack)));
    const results: DeployedStack[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') {
        if (outcome.reason instanceof SkippedStack) continue;
        throw outcome.reason;
      }
      if (outcome.value !== undefined) results.push(outcome.value);
    }
    return results;
  }

  /**
   * Removes a deployed stack: resources in reverse dependency order (custom resources get their Delete
   * request through their ServiceToken, as CloudFormation sends it; functions stop; subscriptions,
   * queues, topics, tables, alarms and dashboards are deleted on moto), then its exports. Refuses
   * while another deployed stack imports one of its exports. Resources already gone count as deleted,
   * so destroying again after a failure finishes the job.
   */
  async destroyStack(stackName: string): Promise<DestroyedStack> {
    const stack = this.deployed.get(stackName);
    if (stack === undefined) throw new StackNotDeployedError(stackName);
    const started = Date.now();
    const uses = this.stacks()
      .filter((other) => other.stackName !== stackName)
      .flatMap((other) =>
        other.imports
          .filter((name) => stack.exports[name] !== undefined)
          .map((exportName) => ({ exportName, importer: other.stackName })),
      );
    if (uses.length > 0) throw new ExportInUseError(stackName, uses);
    const levels = this.levels(stack.artifact, new Set(stack.resources.keys())).reverse();
    for (const level of levels) {
      await this.inParallel(level, async (logicalId) => {
        const resource = stack.resources.get(logicalId);
        if (resource !== undefined) await this.deleteResource(stack, resource);
      });
    }
    for (const name of Object.keys(stack.exports)) this.exportOwners.delete(name);
    this.deployed.delete(stackName);
    const result = {
      stackName,
      resources: stack.resources.size,
      exports: Object.keys(stack.exports),
      durationMs: Date.now() - started,
    };
    this.options.log?.(`destroyed ${stackName}: ${result.resources} resources in ${result.durationMs} ms`);
    return result;
  }

  /**
   * Deletes what a failed deploy created, newest first (as CloudFormation rolls back a failed
   * create), so that the same stack can be deployed again once the cause is fixed. Best effort: a
   * resource that cannot be deleted is reported and left.
   */
  private async rollBack(
    stack: StackArtifact,
    created: ReadonlyMap<string, DeployedResource>,
    order: readonly string[],
  ): Promise<void> {
    const partial = { stackName: stack.stackName, artifact: stack } as const;
    for (const logicalId of [...order].reverse()) {
      const resource = created.get(logicalId);
      if (resource === undefined) continue;
      try {
        await this.deleteResource(partial, resource);
      } catch (error) {
        this.options.log?.(`rollback of ${stack.stackName}: ${messageOf(error)}`);
      }
    }
  }

  private async deleteResource(
    stack: Pick<DeployedStack, 'stackName'>,
    resource: DeployedResource,
  ): Promise<void> {
    if (resource.allowListedBecause !== undefined) return; // nothing was created for it
    const { runner } = this.options;
    const id = resource.physicalId;
    try {
      switch (resource.type) {
        case 'AWS::Lambda::Function':
          await runner.unregister(id);
          return;
        case 'AWS::Lambda::EventSourceMapping':
          await runner.removeSqsEventSource(id);
          return;
        case 'AWS::Events::Rule': {
          if (runner.removeSchedule(id)) return;
          // An event-pattern rule lives on moto's EventBridge: its targets go first, as AWS requires.
          const bus = String(resource.properties?.EventBusName ?? 'default').replace(/^.*:event-bus\//, '');
          const targets = Array.isArray(resource.properties?.Targets) ? resource.properties.Targets : [];
          const ids = targets.map((target) => String(isRecord(target) ? target.Id : '')).filter(Boolean);
          if (ids.length > 0) {
            await gone(
              this.clients.events.send(new RemoveTargetsCommand({ Rule: id, EventBusName: bus, Ids: ids })),
            );
          }
          await gone(this.clients.events.send(new DeleteRuleCommand({ Name: id, EventBusName: bus })));
          return;
        }
        case 'AWS::Events::EventBus':
          await gone(this.clients.events.send(new DeleteEventBusCommand({ Name: id })));
          return;
        case 'AWS::SNS::Subscription':
          // A lambda subscription is the runner's (a hidden queue); an sqs one is moto's.
          if (!(await runner.removeSnsSubscription(id))) {
            await gone(this.clients.sns.send(new UnsubscribeCommand({ SubscriptionArn: id })));
          }
          return;
        case 'AWS::SNS::Topic':
          await gone(this.clients.sns.send(new DeleteTopicCommand({ TopicArn: id })));
          return;
        case 'AWS::SQS::Queue':
          await gone(this.clients.sqs.send(new DeleteQueueCommand({ QueueUrl: id })));
          return;
        case 'AWS::DynamoDB::Table':
        case 'AWS::DynamoDB::GlobalTable':
          await gone(this.clients.dynamodb.send(new DeleteTableCommand({ TableName: id })));
          return;
        case 'AWS::CloudWatch::Alarm':
          await this.clients.cloudwatch.send(new DeleteAlarmsCommand({ AlarmNames: [id] }));
          return;
        case 'AWS::CloudWatch::Dashboard':
          await gone(this.clients.cloudwatch.send(new DeleteDashboardsCommand({ DashboardNames: [id] })));
          return;
        default:
          if (
            resource.type.startsWith('Custom::') ||
            resource.type === 'AWS::CloudFormation::CustomResource'
          ) {
            await this.deleteCustomResource(stack, resource);
          }
      }
    } catch (error) {
      if (error instanceof ResourceDeletionError) throw error;
      throw new ResourceDeletionError(stack.stackName, resource.logicalId, resource.type, messageOf(error), {
        cause: error,
      });
    }
  }

  /** Sends a custom resource's Delete request to its ServiceToken and waits for the response. */
  private async deleteCustomResource(
    stack: Pick<DeployedStack, 'stackName'>,
    resource: DeployedResource,
  ): Promise<void> {
    const properties = resource.properties ?? {};
    const serviceToken = String(properties.ServiceToken ?? '');
    const fail = (detail: string) =>
      new ResourceDeletionError(stack.stackName, resource.logicalId, resource.type, detail);
    if (!this.options.runner.has(serviceToken)) {
      throw fail(
        `its ServiceToken ${serviceToken} is no longer hosted (was the stack that provides it destroyed first?)`,
      );
    }
    const { token, url } = this.customResources.newResponseUrl();
    const requestId = randomUUID();
    const waiting = this.customResources.waitFor(token, this.options.customResourceTimeoutMs ?? 60_000);
    const invocation = this.options.runner
      .invoke(serviceToken, {
        RequestType: 'Delete',
        ServiceToken: serviceToken,
        ResponseURL: url,
        StackId: resourceArn(this.options.environment, 'cloudformation', `stack/${stack.stackName}/local`),
        RequestId: requestId,
        LogicalResourceId: resource.logicalId,
        PhysicalResourceId: resource.physicalId,
        ResourceType: resource.type,
        ResourceProperties: properties,
      })
      .then((result) => {
        if (result.ok) return new Promise<never>(() => {});
        return Promise.reject(
          fail(
            `the provider function failed without sending a response (${result.error.errorType}: ${result.error.errorMessage})`,
          ),
        );
      });
    let response: Awaited<typeof waiting.response>;
    try {
      response = await Promise.race([waiting.response, invocation]);
    } catch (error) {
      waiting.cancel();
      throw error instanceof ResourceDeletionError ? error : fail(messageOf(error));
    }
    if (response.Status === 'FAILED') throw fail(response.Reason ?? 'the provider answered FAILED');
  }

  /** Deploys one stack. Its dependencies (and the stacks whose exports it imports) must be deployed. */
  async deployStack(
    stack: StackArtifact,
    options: Pick<DeployOptions, 'replace'> = {},
  ): Promise<DeployedStack> {
    if (this.deployed.has(stack.stackName)) {
      if (options.replace !== true) throw new StackAlreadyDeployedError(stack.stackName);
      await this.destroyStack(stack.stackName);
    }
    const started = Date.now();
    const { template, stackName } = stack;
    const { environment } = this.options;
    const created = new Map<string, DeployedResource>();
    const imported = new Set<string>();
    const resolver = new TemplateResolver({
      template,
      pseudo: {
        region: environment.region,
        accountId: environment.accountId,
        partition: LOCAL_PARTITION,
        urlSuffix: LOCAL_URL_SUFFIX,
        stackName,
        stackId: `arn:aws:cloudformation:${environment.region}:${environment.accountId}:stack/${stackName}/local`,
      },
      resources: {
        ref: (logicalId, path) => this.lookup(stackName, created, logicalId, path).physicalId,
        getAtt: (logicalId, attribute, path) => {
          const resource = this.lookup(stackName, created, logicalId, path);
          const value = resource.attributes[attribute];
          if (value === undefined) {
            const known = Object.keys(resource.attributes).filter(
              (key) => resource.attributes[key] !== undefined,
            );
            throw new IntrinsicError(
              stackName,
              path,
              `${logicalId} (${resource.type}) has no attribute "${attribute}" in the local cloud (it has: ${known.join(', ') || 'none'})`,
            );
          }
          return value;
        },
      },
      importValue: (name, path) => {
        const owner = this.exportOwners.get(name);
        if (owner === undefined)
          throw new MissingImportError(stackName, name, path, [...this.exportOwners.keys()]);
        imported.add(name);
        return owner.value;
      },
      parameters: this.options.parameters?.[stackName] ?? {},
      sqsEndpoint: environment.endpoint,
    });

    const entries = Object.entries(template.Resources);
    for (const [logicalId, resource] of entries) {
      if (ALLOW_LIST[resource.Type] === undefined && providerFor(resource.Type) === undefined) {
        throw new UnsupportedResourceError(stackName, logicalId, resource.Type);
      }
    }
    const included = new Set<string>();
    const skipped: string[] = [];
    for (const [logicalId, resource] of entries) {
      if (
        resource.Condition === undefined ||
        resolver.condition(resource.Condition, `Resources.${logicalId}.Condition`)
      ) {
        included.add(logicalId);
      } else {
        skipped.push(logicalId);
      }
    }
    const order: string[] = [];
    try {
      for (const level of this.levels(stack, included)) {
        await this.inParallel(level, async (logicalId) => {
          created.set(logicalId, await this.createResource(stack, logicalId, resolver));
          order.push(logicalId);
        });
      }
    } catch (error) {
      await this.rollBack(stack, created, order);
      throw error;
    }

    const outputs: Record<string, unknown> = {};
    const exports: Record<string, string> = {};
    for (const [name, output] of Object.entries(template.Outputs ?? {})) {
      if (
        output.Condition !== undefined &&
        !resolver.condition(output.Condition, `Outputs.${name}.Condition`)
      )
        continue;
      const value = resolver.resolve(output.Value, `Outputs.${name}.Value`);
      outputs[name] = value;
      if (output.Export === undefined) continue;
      const exportName = resolver.resolve(output.Export.Name, `Outputs.${name}.Export.Name`);
      if (typeof exportName !== 'string' || exportName === '') {
        throw new IntrinsicError(
          stackName,
          `Outputs.${name}.Export.Name`,
          'an export name must be a non-empty string',
        );
      }
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new IntrinsicError(
          stackName,
          `Outputs.${name}.Value`,
          `an exported value must be a string, got ${JSON.stringify(value)}`,
        );
      }
      const existing = this.exportOwners.get(exportName);
      if (existing !== undefined || exports[exportName] !== undefined) {
        throw new DuplicateExportError(exportName, stackName, existing?.stackName ?? stackName);
      }
      exports[exportName] = String(value);
    }
    for (const [exportName, value] of Object.entries(exports))
      this.exportOwners.set(exportName, { stackName, value });
    const result: DeployedStack = {
      stackName,
      artifactId: stack.artifactId,
      artifact: stack,
      resources: created,
      skippedByCondition: skipped,
      outputs,
      exports,
      imports: [...imported],
      durationMs: Date.now() - started,
    };
    this.deployed.set(stackName, result);
    this.options.log?.(`deployed ${stackName}: ${created.size} resources in ${result.durationMs} ms`);
    return result;
  }

  private lookup(
    stackName: string,
    created: ReadonlyMap<string, DeployedResource>,
    logicalId: string,
    path: string,
  ): DeployedResource {
    const resource = created.get(logicalId);
    if (resource === undefined) {
      throw new IntrinsicError(
        stackName,
        path,
        `refers to ${logicalId}, which is not created (its Condition is false, or the reference is not a declared dependency)`,
      );
    }
    return resource;
  }

  /** Groups the included resources into levels: each level depends only on earlier levels. */
  private levels(stack: StackArtifact, included: ReadonlySet<string>): string[][] {
    const dependencies = new Map<string, Set<string>>();
    for (const logicalId of included) {
      const resource = stack.template.Resources[logicalId];
      if (resource === undefined) continue;
      const found = referencedResources(resource.Properties ?? {}, stack.template);
      const dependsOn = resource.DependsOn === undefined ? [] : [resource.DependsOn].flat();
      for (const target of dependsOn) {
        if (stack.template.Resources[target] === undefined) {
          throw new IntrinsicError(
            stack.stackName,
            `Resources.${logicalId}.DependsOn`,
            `${target} is not a resource of this template`,
          );
        }
        found.add(target);
      }
      dependencies.set(logicalId, new Set([...found].filter((id) => included.has(id) && id !== logicalId)));
    }
    const levels: string[][] = [];
    const done = new Set<string>();
    while (done.size < dependencies.size) {
      const ready = [...dependencies.entries()]
        .filter(([id, needs]) => !done.has(id) && [...needs].every((need) => done.has(need)))
        .map(([id]) => id);
      if (ready.length === 0) {
        const stuck = [...dependencies.keys()].filter((id) => !done.has(id));
        throw new IntrinsicError(
          stack.stackName,
          'Resources',
          `circular dependency between ${stuck.join(', ')}`,
        );
      }
      for (const id of ready) done.add(id);
      levels.push(ready);
    }
    return levels;
  }

  private async inParallel(items: readonly string[], work: (item: string) => Promise<void>): Promise<void> {
    const limit = Math.max(1, this.options.concurrency ?? 8);
    let next = 0;
    const errors: unknown[] = [];
    const lane = async () => {
      while (next < items.length && errors.length === 0) {
        const item = items[next];
        next += 1;
        if (item === undefined) return;
        try {
          await work(item);
        } catch (error) {
          errors.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
    if (errors.length > 0) throw errors[0];
  }

  private async createResource(
    stack: StackArtifact,
    logicalId: string,
    resolver: TemplateResolver,
  ): Promise<DeployedResource> {
    const resource = stack.template.Resources[logicalId];
    if (resource === undefined)
      throw new IntrinsicError(stack.stackName, `Resources.${logicalId}`, 'is not in the template');
    const type = resource.Type;
    const base = `Resources.${logicalId}.Properties`;
    const allowListed = ALLOW_LIST[type];
    if (allowListed !== undefined) {
      const described = allowListed.describe({
        stackName: stack.stackName,
        logicalId,
        environment: this.options.environment,
        property: (name) => resolver.resolve(resource.Properties?.[name], `${base}.${name}`),
      });
      if (this.options.iam !== undefined) {
        // Every property that resolves (an allow-listed resource may refer to what is not emulated).
        const properties: Record<string, unknown> = {};
        for (const [name, value] of Object.entries(resource.Properties ?? {})) {
          try {
            properties[name] = resolver.resolve(value, `${base}.${name}`);
          } catch {
            // left out: the registry reads only what it understands
          }
        }
        this.options.iam.record({
          type,
          physicalId: described.physicalId,
          attributes: described.attributes ?? {},
          properties,
        });
      }
      return this.record(logicalId, type, described, undefined, [], allowListed.reason);
    }
    const provider = providerFor(type);
    if (provider === undefined) throw new UnsupportedResourceError(stack.stackName, logicalId, type);
    const properties = resolver.resolve(resource.Properties ?? {}, base);
    if (!isRecord(properties)) {
      throw new IntrinsicError(stack.stackName, base, 'Properties must resolve to an object');
    }
    const reader = new PropertyReader(properties, { stackName: stack.stackName, logicalId, type });
    try {
      const createdResource = await provider.create({
        stackName: stack.stackName,
        logicalId,
        type,
        stack,
        properties: reader,
        clients: this.clients,
        runner: this.options.runner,
        environment: this.options.environment,
        customResources: this.customResources,
        customResourceTimeoutMs: this.options.customResourceTimeoutMs ?? 60_000,
        makeTempDirectory: () => this.makeTempDirectory(),
      });
      this.options.iam?.record({
        type,
        physicalId: createdResource.physicalId,
        attributes: createdResource.attributes ?? {},
        properties,
      });
      return this.record(logicalId, type, createdResource, properties, reader.ignored, undefined);
    } catch (error) {
      if (namesItsResource(error)) throw error;
      throw new ResourceCreationError(stack.stackName, logicalId, type, { cause: error });
    }
  }

  private record(
    logicalId: string,
    type: string,
    created: CreatedResource,
    properties: Readonly<Record<string, unknown>> | undefined,
    ignored: readonly IgnoredProperty[],
    allowListedBecause: string | undefined,
  ): DeployedResource {
    return {
      logicalId,
      type,
      physicalId: created.physicalId,
      attributes: created.attributes ?? {},
      properties,
      ignoredProperties: ignored,
      ...(allowListedBecause !== undefined ? { allowListedBecause } : {}),
    };
  }

  private async makeTempDirectory(): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), 'plugboard-local-'));
    this.tempDirectories.push(directory);
    return directory;
  }

  /** A deployed stack by name. */
  stack(stackName: string): DeployedStack | undefined {
    return this.deployed.get(stackName);
  }

  /** Every deployed stack, in deployment order. */
  stacks(): DeployedStack[] {
    return [...this.deployed.values()];
  }

  /** Every export of every deployed stack. */
  exports(): Record<string, string> {
    return Object.fromEntries([...this.exportOwners].map(([name, owner]) => [name, owner.value]));
  }

  /** Stops the custom-resource endpoint and removes scratch directories. */
  async close(): Promise<void> {
    await this.customResources.close();
    await Promise.all(
      this.tempDirectories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })),
    );
  }
}
