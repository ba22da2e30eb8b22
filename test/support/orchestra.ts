/**
 * Engine integration harness: the real handlers and SDK adapters wired to SNS topics, SQS inboxes and
 * the status table on a private moto server, with scripted fake plugins that read their own SQS queue
 * (subscribed to the stage topic with the real filter policy) and report back to the inbox.
 *
 * `pump()` plays the role of Lambda's pollers, one receive round at a time, so tests decide exactly
 * when messages are delivered, duplicated or lost to a crash.
 */
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { DynamoRegistry } from '../../lambdas/adapters/dynamo-registry.js';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import { SnsDispatcher } from '../../lambdas/adapters/sns-dispatcher.js';
import { SnsEventPublisher } from '../../lambdas/adapters/sns-event-publisher.js';
import { SqsCommandBus } from '../../lambdas/adapters/sqs-command-bus.js';
import { SqsQuarantine } from '../../lambdas/adapters/sqs-quarantine.js';
import {
  type LifecycleEvent,
  type PluginInfoInput,
  type PluginMessage,
  pluginInfoSchema,
  pluginMessageSchema,
  type ReportInput,
  STAGE_NAMES,
  type StageName,
} from '../../lambdas/contracts/index.js';
import type { ActivitySettings, EngineConfig } from '../../lambdas/engine/config.js';
import type { EngineDeps } from '../../lambdas/engine/deps.js';
import { mergeTargeting } from '../../lambdas/engine/filter-policy.js';
import type {
  Clock,
  CommandBus,
  Dispatcher,
  EventPublisher,
  StatusStore,
} from '../../lambdas/engine/ports.js';
import type { RunSnapshot } from '../../lambdas/engine/records.js';
import { filterMatcher } from '../../lambdas/handlers/filter-matcher.js';
import { createObservability } from '../../lambdas/handlers/observability.js';
import { createStageHandler } from '../../lambdas/handlers/stage.js';
import { createStartHandler, type StartResponse } from '../../lambdas/handlers/start.js';
import { createSweeperHandler } from '../../lambdas/handlers/sweeper.js';
import { motoClientConfig } from './moto.js';
import { createStatusTable, type StatusTable, serializeRequests } from './status-table.js';

/** What a fake plugin does with one delivery. */
export type Behaviour =
  | { readonly status: 'Complete'; readonly result?: unknown }
  | { readonly status: 'Error'; readonly retryable?: boolean; readonly message?: string }
  /** Never reports (a hanging plugin). */
  | { readonly status: 'hang' };

export interface FakePlugin {
  readonly activity: string;
  readonly stage: StageName;
  readonly info: PluginInfoInput;
  readonly filterPolicy?: Record<string, unknown>;
  readonly filterPolicyScope?: 'MessageAttributes' | 'MessageBody';
  /** Decides per delivery; `deliveries` counts this plugin's deliveries so far (1 = first). */
  readonly behave: (message: PluginMessage, deliveries: number) => Behaviour;
  /** Also send an `In Progress` report before the final one. */
  readonly reportInProgress?: boolean;
}

export interface OrchestraOptions {
  readonly endpoint: string;
  readonly workflows: Record<string, readonly string[]>;
  readonly plugins: readonly FakePlugin[];
  readonly settings?: Partial<ActivitySettings>;
  readonly clock?: Clock;
  /** Wraps the ports, e.g. to inject crashes. */
  readonly wrap?: (deps: EngineDeps) => EngineDeps;
  /**
   * Keep registrations in a table of their own. Only for very wide stages: moto copies the whole
   * table for every item of a transaction, so 1,000 registrations beside 1,000 plugin records double
   * the time of every count-down. (Deployments keep both in the one status table.)
   */
  readonly separateRegistryTable?: boolean;
}

export interface PumpOptions {
  /** Deliver every inbox message twice to its handler before deleting it. */
  readonly duplicate?: boolean;
  /** Shuffle the order of reports a plugin round sends (with this seed). */
  readonly shuffleSeed?: number;
}

let counter = 0;

export class Orchestra {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly store: DynamoStatusStore;
  readonly registry: DynamoRegistry;
  readonly events: LifecycleEvent[] = [];
  readonly published: PluginMessage[] = [];
  private readonly inboxes = new Map<
    string,
    { url: string; dlqUrl: string; handler: ReturnType<typeof createStageHandler> }
  >();
  private readonly pluginQueues: { plugin: FakePlugin; url: string; deliveries: number }[] = [];
  private eventsQueueUrl = '';
  private startHandler!: ReturnType<typeof createStartHandler>;
  private sweeper!: () => Promise<unknown>;
  private rng = 1;
  /** Queues that may hold messages; a receive that finds nothing cleans a queue. */
  private readonly dirty = new Set<string>();
  private readonly topicQueues = new Map<string, string[]>();

  private constructor(
    readonly options: OrchestraOptions,
    readonly table: StatusTable,
    readonly prefix: string,
    registryTable: StatusTable,
  ) {
    const config = motoClientConfig(options.endpoint);
    this.sqs = new SQSClient(config);
    this.sns = new SNSClient(config);
    const documentClient = table.documentClient;
    const tableName = table.tableName;
    this.store = new DynamoStatusStore({ tableName, client: documentClient });
    this.registry = new DynamoRegistry({
      tableName: registryTable.tableName,
      client: registryTable.documentClient,
    });
  }

  static async create(options: OrchestraOptions): Promise<Orchestra> {
    counter += 1;
    const prefix = `o${process.pid}x${counter}`;
    const table = await createStatusTable(options.endpoint);
    // moto runs transactions without isolation; DynamoDB isolates every request (see status-table.ts).
    serializeRequests(table.documentClient);
    const registryTable = options.separateRegistryTable ? await createStatusTable(options.endpoint) : table;
    const orchestra = new Orchestra(options, table, prefix, registryTable);
    await orchestra.setUp();
    return orchestra;
  }

  inboxUrl = (activity: string, stage: StageName): string =>
    `${this.options.endpoint}/123456789012/${this.prefix}-${activity}-${stage}-inbox`;

  private async setUp(): Promise<void> {
    const activities = [...new Set(Object.values(this.options.workflows).flat())];
    const settings: ActivitySettings = {
      deadlineSeconds: 60,
      maxAttempts: 3,
      retryBaseSeconds: 0.001,
      ...this.options.settings,
    };
    const topics = new Map<string, string>();
    const topicArnOf = (activity: string, stage: StageName): string => {
      const arn = topics.get(`${activity}/${stage}`);
      if (!arn) throw new Error(`orchestra: no topic for ${activity}/${stage}`);
      return arn;
    };
    const config: EngineConfig = {
      workflows: this.options.workflows,
      activities: Object.fromEntries(activities.map((a) => [a, settings])),
      inboxUrl: this.inboxUrl,
      topicArn: topicArnOf,
    };
    const eventsTopic = await this.sns.send(new CreateTopicCommand({ Name: `${this.prefix}-events` }));
    const eventsQueue = await this.createQueue(`${this.prefix}-events`);
    this.eventsQueueUrl = eventsQueue.url;
    await this.sns.send(
      new SubscribeCommand({
        TopicArn: eventsTopic.TopicArn,
        Protocol: 'sqs',
        Endpoint: eventsQueue.arn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    const clock = this.options.clock ?? { now: () => new Date() };
    const observability = createObservability('orchestra', 'test');
    const recordPublished: Dispatcher['publish'] = async (message) => {
      this.published.push(message);
    };
    const baseDeps = (): EngineDeps => {
      const dispatcher = new SnsDispatcher(topicArnOf, this.sns);
      const bus = new SqsCommandBus(this.inboxUrl, this.sqs);
      return {
        store: this.store,
        registry: this.registry,
        dispatcher: {
          publish: async (message) => {
            await dispatcher.publish(message);
            const topicArn = topicArnOf(message.activity, message.stage);
            for (const url of this.topicQueues.get(topicArn) ?? []) this.dirty.add(url);
            await recordPublished(message);
          },
        },
        commands: {
          send: async (command, options) => {
            await bus.send(command, options);
            this.dirty.add(this.inboxUrl(command.activity, command.stage));
          },
        },
        events: new SnsEventPublisher(eventsTopic.TopicArn ?? '', this.sns),
        clock,
        config,
        matchesFilter: filterMatcher,
        observer: observability.observer,
      };
    };
    const wrap = this.options.wrap ?? ((deps: EngineDeps) => deps);
    for (const activity of activities) {
      for (const stage of STAGE_NAMES) {
        const topic = await this.sns.send(
          new CreateTopicCommand({ Name: `${this.prefix}-${activity}-${stage}` }),
        );
        const topicArn = topic.TopicArn ?? '';
        topics.set(`${activity}/${stage}`, topicArn);
        const dlq = await this.createQueue(`${this.prefix}-${activity}-${stage}-inbox-dlq`);
        const inbox = await this.createQueue(`${this.prefix}-${activity}-${stage}-inbox`, {
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 5 }),
        });
        this.inboxes.set(`${activity}/${stage}`, {
          url: inbox.url,
          dlqUrl: dlq.url,
          handler: createStageHandler({
            self: { activity, stage },
            observability,
            quarantine: new SqsQuarantine(dlq.url, this.sqs),
            engine: wrap(baseDeps()),
          }),
        });
      }
    }
    const startDeps = wrap(baseDeps());
    this.startHandler = createStartHandler({
      observability,
      quarantine: new SqsQuarantine(eventsQueue.url, this.sqs),
      engine: startDeps,
    });
    this.sweeper = createSweeperHandler(startDeps, observability);

    for (const plugin of this.options.plugins) {
      const info = pluginInfoSchema.parse(plugin.info);
      await this.registry.put({
        schemaVersion: 1,
        activity: plugin.activity,
        stage: plugin.stage,
        info,
        ...(plugin.filterPolicy ? { filterPolicy: plugin.filterPolicy } : {}),
        filterPolicyScope: plugin.filterPolicyScope ?? 'MessageAttributes',
      });
      const queue = await this.createQueue(
        `${this.prefix}-p-${plugin.activity}-${plugin.stage}-${info.name}`,
      );
      const scope = plugin.filterPolicyScope ?? 'MessageAttributes';
      await this.sns.send(
        new SubscribeCommand({
          TopicArn: topics.get(`${plugin.activity}/${plugin.stage}`),
          Protocol: 'sqs',
          Endpoint: queue.arn,
          Attributes: {
            RawMessageDelivery: 'true',
            FilterPolicyScope: scope,
            FilterPolicy: JSON.stringify(mergeTargeting(plugin.filterPolicy, scope, info.name)),
          },
        }),
      );
      this.pluginQueues.push({ plugin, url: queue.url, deliveries: 0 });
      const topicArn = topics.get(`${plugin.activity}/${plugin.stage}`) ?? '';
      this.topicQueues.set(topicArn, [...(this.topicQueues.get(topicArn) ?? []), queue.url]);
    }
  }

  private async createQueue(
    name: string,
    attributes: Record<string, string> = {},
  ): Promise<{ url: string; arn: string }> {
    const created = await this.sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '0', ...attributes } }),
    );
    const url = created.QueueUrl ?? '';
    const attrs = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    return { url, arn: attrs.Attributes?.QueueArn ?? '' };
  }

  /** The stage orchestrator handler of one stage, to deliver hand-made batches to it. */
  stageHandler(
    activity: string,
    stage: StageName,
  ): (event: SQSEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
    const inbox = this.inboxes.get(`${activity}/${stage}`);
    if (!inbox) throw new Error(`no inbox ${activity}/${stage}`);
    return inbox.handler;
  }

  /** Registers a plugin without a fake plugin behind it (for tests that send reports themselves). */
  async register(activity: string, stage: StageName, pluginInfo: PluginInfoInput): Promise<void> {
    await this.registry.put({
      schemaVersion: 1,
      activity,
      stage,
      info: pluginInfoSchema.parse(pluginInfo),
      filterPolicyScope: 'MessageAttributes',
    });
  }

  /** How many messages wait in a stage inbox (visible or in flight). */
  async inboxDepth(activity: string, stage: StageName): Promise<number> {
    const attributes = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.inboxUrl(activity, stage),
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Object.values(attributes.Attributes ?? {}).reduce((sum, v) => sum + Number(v), 0);
  }

  /** The start function's direct invocation (what the CLI does). */
  async start(request: Record<string, unknown>): Promise<StartResponse> {
    return (await this.startHandler(request)) as StartResponse;
  }

  async sweep(): Promise<void> {
    await this.sweeper();
  }

  /**
   * One round: every inbox is drained once into its handler, then every plugin queue once into its
   * fake plugin. Returns how many messages were handled.
   */
  async pump(options: PumpOptions = {}): Promise<number> {
    let handled = 0;
    for (const [, inbox] of this.inboxes) {
      const messages = await this.receive(inbox.url);
      if (messages.length === 0) continue;
      handled += messages.length;
      const event: SQSEvent = { Records: messages.map((m) => toRecord(m, inbox.url)) };
      let result = await inbox.handler(event);
      if (options.duplicate) result = await inbox.handler(event);
      const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
      await this.delete(
        inbox.url,
        messages.filter((m) => !failed.has(m.MessageId ?? '')),
      );
    }
    const reports: { queueUrl: string; body: ReportInput }[] = [];
    for (const entry of this.pluginQueues) {
      const messages = await this.receive(entry.url);
      handled += messages.length;
      for (const raw of messages) {
        const message = pluginMessageSchema.parse(JSON.parse(raw.Body ?? '{}'));
        entry.deliveries += 1;
        const name = pluginInfoSchema.parse(entry.plugin.info).name;
        const behaviour = entry.plugin.behave(message, entry.deliveries);
        const base = {
          kind: 'report' as const,
          workflow: message.workflow,
          uid: message.uid,
          generation: message.generation,
          activity: message.activity,
          stage: message.stage,
          plugin: name,
          attempt: message.attempt,
          reportedAt: new Date().toISOString(),
        };
        if (entry.plugin.reportInProgress) {
          reports.push({ queueUrl: message.replyTo.queueUrl, body: { ...base, status: 'In Progress' } });
        }
        if (behaviour.status === 'Complete') {
          reports.push({
            queueUrl: message.replyTo.queueUrl,
            body: {
              ...base,
              status: 'Complete',
              ...(behaviour.result !== undefined ? { result: behaviour.result } : {}),
            },
          });
        } else if (behaviour.status === 'Error') {
          reports.push({
            queueUrl: message.replyTo.queueUrl,
            body: {
              ...base,
              status: 'Error',
              retryable: behaviour.retryable ?? true,
              message: behaviour.message ?? 'failed',
            },
          });
        }
      }
      await this.delete(entry.url, messages);
    }
    if (options.shuffleSeed !== undefined) {
      this.rng = options.shuffleSeed;
      for (let i = reports.length - 1; i > 0; i -= 1) {
        const j = this.random() % (i + 1);
        const a = reports[i];
        const b = reports[j];
        if (a && b) {
          reports[i] = b;
          reports[j] = a;
        }
      }
    }
    for (const report of reports) {
      await this.sqs.send(
        new SendMessageCommand({ QueueUrl: report.queueUrl, MessageBody: JSON.stringify(report.body) }),
      );
      this.dirty.add(report.queueUrl);
    }
    return handled;
  }

  /** Pumps until the run is final (or `maxRounds` pass). */
  async runUntilSettled(
    key: { workflow: string; uid: string },
    options: PumpOptions & { maxRounds?: number; between?: () => Promise<void> } = {},
  ): Promise<RunSnapshot> {
    const maxRounds = options.maxRounds ?? 200;
    for (let round = 0; round < maxRounds; round += 1) {
      const handled = await this.pump(options);
      const run = await this.store.getRun(key);
      if (run && run.state !== 'In Progress' && handled === 0 && !(await this.anythingInFlight())) break;
      if (handled === 0) {
        if (options.between) await options.between();
        else await new Promise((r) => setTimeout(r, 50));
      }
    }
    const snapshot = await this.store.readRun(key);
    if (!snapshot) throw new Error(`run ${key.uid} not found`);
    return snapshot;
  }

  /** Whether any inbox still holds a message (visible, in flight or delayed). */
  async anythingInFlight(): Promise<boolean> {
    for (const [, inbox] of this.inboxes) {
      const attributes = await this.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: inbox.url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      const values = Object.values(attributes.Attributes ?? {}).map(Number);
      if (values.some((v) => v > 0)) return true;
    }
    return false;
  }

  /** Lifecycle events published so far (drains the events queue). */
  async drainEvents(): Promise<LifecycleEvent[]> {
    for (;;) {
      this.dirty.add(this.eventsQueueUrl);
      const messages = await this.receive(this.eventsQueueUrl);
      if (messages.length === 0) break;
      for (const m of messages) this.events.push(JSON.parse(m.Body ?? '{}') as LifecycleEvent);
      await this.delete(this.eventsQueueUrl, messages);
    }
    return this.events;
  }

  /** Messages currently in a stage inbox's dead-letter queue. */
  async deadLetters(activity: string, stage: StageName): Promise<Message[]> {
    const inbox = this.inboxes.get(`${activity}/${stage}`);
    if (!inbox) throw new Error(`no inbox ${activity}/${stage}`);
    const response = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: inbox.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      }),
    );
    return response.Messages ?? [];
  }

  async sendToInbox(activity: string, stage: StageName, body: string): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.inboxUrl(activity, stage), MessageBody: body }),
    );
    this.dirty.add(this.inboxUrl(activity, stage));
  }

  private random(): number {
    this.rng = (this.rng * 1103515245 + 12345) & 0x7fffffff;
    return this.rng;
  }

  private async receive(url: string): Promise<Message[]> {
    if (!this.dirty.has(url)) return [];
    const response = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = response.Messages ?? [];
    if (messages.length === 0) this.dirty.delete(url);
    return messages;
  }

  private async delete(url: string, messages: readonly Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      if (chunk.length === 0) continue;
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: chunk.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
  }
}

export function toRecord(message: Message, queueUrl: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'test',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queueUrl.split('/').pop() ?? ''}`,
    awsRegion: 'us-east-1',
  };
}

/**
 * Wraps ports so that the n-th call of a chosen kind throws once, as if the Lambda crashed right
 * there. Counting starts when `arm` is called; `crashes` lists what was injected.
 */
export class CrashInjector {
  private remaining = -1;
  private kind: 'store-write' | 'publish' | 'command' | 'event' = 'publish';
  readonly crashes: string[] = [];
  /** Calls of each kind seen so far, armed or not (a probe run counts a run's writes). */
  readonly seen: Record<CrashInjector['kind'], number> = {
    'store-write': 0,
    publish: 0,
    command: 0,
    event: 0,
  };

  arm(kind: CrashInjector['kind'], afterCalls: number): void {
    this.kind = kind;
    this.remaining = afterCalls;
  }

  private tick(kind: CrashInjector['kind'], what: string): void {
    this.seen[kind] += 1;
    if (this.remaining < 0 || kind !== this.kind) return;
    if (this.remaining === 0) {
      this.remaining = -1;
      this.crashes.push(what);
      throw new Error(`injected crash before ${what}`);
    }
    this.remaining -= 1;
  }

  wrap = (deps: EngineDeps): EngineDeps => {
    const store = deps.store;
    const writes = new Set([
      'createRunIfAbsent',
      'transitionRun',
      'createStageIfAbsent',
      'putPluginsIfAbsent',
      'transitionStage',
      'transitionPlugin',
      'recordFinalOutcomes',
      'recordLateReport',
      'claimTimeout',
    ]);
    const wrappedStore = new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        const name = String(property);
        return async (...args: unknown[]) => {
          if (writes.has(name)) this.tick('store-write', `store.${name}`);
          return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      },
    }) as StatusStore;
    const dispatcher: Dispatcher = {
      publish: async (m) => {
        this.tick('publish', 'publish');
        await deps.dispatcher.publish(m);
      },
    };
    const commands: CommandBus = {
      send: async (c, o) => {
        this.tick('command', `command ${c.kind}`);
        await deps.commands.send(c, o);
      },
    };
    const events: EventPublisher = {
      publish: async (e) => {
        this.tick('event', `event ${e.type}`);
        await deps.events.publish(e);
      },
    };
    return { ...deps, store: wrappedStore, dispatcher, commands, events };
  };
}
