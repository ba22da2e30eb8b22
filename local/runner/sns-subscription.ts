/**
 * An SNS → Lambda subscription, emulated: moto cannot run Lambda code, so the topic gets a hidden SQS
 * queue subscribed with the same FilterPolicy and FilterPolicyScope (raw delivery off, so the
 * envelope keeps Subject and MessageAttributes). Moto evaluates the filter policy; the runner polls the
 * queue and invokes the function with a real-shaped SNS event, one notification per invocation, as an
 * asynchronous invocation: a failure is retried (MaximumRetryAttempts, default 2, after the retry
 * delays) and then sent to the function's DeadLetterConfig target, else to a hidden dead-letter queue
 * with a warning, so nothing disappears silently.
 */
import { createHash } from 'node:crypto';
import { type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { messageOf, RunnerStoppedError } from '../errors.js';
import { type SnsEvent, snsEventFromEnvelope } from './events.js';
import type { InvocationResult } from './function-pool.js';

export interface SnsSubscriptionDefinition {
  readonly topicArn: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** The subscription's FilterPolicy as JSON text, if any. */
  readonly filterPolicy?: string;
  /** @default 'MessageAttributes' */
  readonly filterPolicyScope?: string;
  /** The subscription's RedrivePolicy (JSON text), recorded on the hidden subscription. */
  readonly redrivePolicy?: string;
  /** Used to size the hidden queue's visibility timeout. */
  readonly functionTimeoutSeconds: number;
  /** Retries after a failed invocation. */
  readonly maximumRetryAttempts: number;
}

/** What was created for a subscription (the topology check compares it with the template). */
export interface SnsSubscriptionInfo {
  readonly topicArn: string;
  readonly functionName: string;
  readonly functionArn: string;
  /** The ARN of the subscription on moto (topic → hidden queue). */
  readonly subscriptionArn: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly filterPolicy: string | undefined;
  readonly filterPolicyScope: string;
}

export interface SnsSubscriptionDeps {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly waitSeconds: number;
  readonly pollers: number;
  /** Notifications handled at once (the function's concurrency limit). @default 10 */
  readonly concurrency?: number;
  /** Delay before retry n (1-based index into the list; the last entry repeats), in seconds. */
  readonly retryDelaysSeconds: readonly number[];
  readonly invoke: (event: SnsEvent) => Promise<InvocationResult>;
  /** Called once a notification has failed every attempt. */
  readonly deadLetter: (event: SnsEvent, result: InvocationResult, body: string) => Promise<void>;
  readonly warn: (message: string) => void;
}

export class SnsSubscription {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** Notifications being handled (invocation, retries bookkeeping, delete). */
  private readonly handling = new Set<Promise<void>>();
  /** Pollers waiting for room. */
  private readonly roomWaiters: (() => void)[] = [];
  private counters = { delivered: 0, failedAttempts: 0, deadLettered: 0 };

  private constructor(
    readonly info: SnsSubscriptionInfo,
    private readonly definition: SnsSubscriptionDefinition,
    private readonly deps: SnsSubscriptionDeps,
  ) {}

  /** Creates the hidden queue and the topic subscription on moto, then starts polling. */
  static async create(
    definition: SnsSubscriptionDefinition,
    deps: SnsSubscriptionDeps,
  ): Promise<SnsSubscription> {
    const digest = createHash('sha256')
      .update(`${definition.topicArn}\n${definition.functionArn}\n${definition.filterPolicy ?? ''}`)
      .digest('hex')
      .slice(0, 16);
    const queueName = `plugboard-local-sns-${definition.functionName.slice(0, 40)}-${digest}`;
    const created = await deps.sqs.send(
      new CreateQueueCommand({
        QueueName: queueName,
        Attributes: {
          VisibilityTimeout: String(Math.max(30, definition.functionTimeoutSeconds + 5)),
          MessageRetentionPeriod: String(14 * 24 * 3600),
        },
      }),
    );
    const queueUrl = created.QueueUrl;
    if (queueUrl === undefined) throw new Error(`moto returned no URL for the hidden queue ${queueName}`);
    const attributes = await deps.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const queueArn = attributes.Attributes?.QueueArn;
    if (queueArn === undefined) throw new Error(`moto returned no ARN for the hidden queue ${queueName}`);
    const scope = definition.filterPolicyScope ?? 'MessageAttributes';
    const subscribed = await deps.sns.send(
      new SubscribeCommand({
        TopicArn: definition.topicArn,
        Protocol: 'sqs',
        Endpoint: queueArn,
        ReturnSubscriptionArn: true,
        Attributes: {
          RawMessageDelivery: 'false',
          ...(definition.filterPolicy !== undefined
            ? { FilterPolicy: definition.filterPolicy, FilterPolicyScope: scope }
            : {}),
          ...(definition.redrivePolicy !== undefined ? { RedrivePolicy: definition.redrivePolicy } : {}),
        },
      }),
    );
    const subscriptionArn = subscribed.SubscriptionArn;
    if (subscriptionArn === undefined)
      throw new Error(`moto returned no subscription ARN for ${definition.topicArn}`);
    const subscription = new SnsSubscription(
      {
        topicArn: definition.topicArn,
        functionName: definition.functionName,
        functionArn: definition.functionArn,
        subscriptionArn,
        queueUrl,
        queueArn,
        filterPolicy: definition.filterPolicy,
        filterPolicyScope: scope,
      },
      definition,
      deps,
    );
    subscription.start();
    return subscription;
  }

  stats(): { delivered: number; failedAttempts: number; deadLettered: number } {
    return { ...this.counters };
  }

  private start(): void {
    for (let index = 0; index < this.deps.pollers; index += 1) this.loops.push(this.poll());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wakeWaiters();
    await Promise.all(this.loops);
    await Promise.all([...this.handling]);
    this.loops = [];
  }

  /**
   * Receives while fewer notifications than the function may run at once are being handled, and
   * handles each on its own: like Lambda's asynchronous invocation queue, one slow invocation does
   * not hold back the notifications published after it. Receiving no more than can run keeps the
   * rest in the hidden queue (not in flight, where their visibility timeout would run out).
   */
  private async poll(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        const room = this.capacity - this.handling.size;
        if (room <= 0) {
          await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
          continue;
        }
        const response = await this.deps.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.info.queueUrl,
            MaxNumberOfMessages: Math.min(10, room),
            WaitTimeSeconds: this.deps.waitSeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          { abortSignal: this.abort.signal },
        );
        for (const message of response.Messages ?? []) this.track(this.handle(message));
      } catch (error) {
        if (this.abort.signal.aborted || error instanceof RunnerStoppedError) return;
        this.deps.warn(
          `SNS subscription ${this.info.topicArn} -> ${this.info.functionName}: ${messageOf(error)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** Notifications being handled at most at once: the function's concurrency, at least one. */
  private get capacity(): number {
    return Math.max(1, this.deps.concurrency ?? 10);
  }

  private track(handling: Promise<void>): void {
    const tracked = handling
      .catch((error: unknown) => {
        if (!(error instanceof RunnerStoppedError) && !this.abort.signal.aborted) {
          this.deps.warn(
            `SNS subscription ${this.info.topicArn} -> ${this.info.functionName}: ${messageOf(error)}`,
          );
        }
      })
      .finally(() => {
        this.handling.delete(tracked);
        this.wakeWaiters();
      });
    this.handling.add(tracked);
  }

  private wakeWaiters(): void {
    for (const wake of this.roomWaiters.splice(0)) wake();
  }

  private async handle(message: Message): Promise<void> {
    const body = message.Body ?? '';
    const event = snsEventFromEnvelope(body, this.info.subscriptionArn);
    if (event === undefined) {
      this.deps.warn(
        `hidden queue ${this.info.queueUrl} received a message that is not an SNS envelope; dropped`,
      );
      await this.delete(message);
      return;
    }
    const result = await this.deps.invoke(event);
    if (result.ok) {
      this.counters.delivered += 1;
      await this.delete(message);
      return;
    }
    this.counters.failedAttempts += 1;
    const attempt = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    if (attempt <= this.definition.maximumRetryAttempts) {
      const delays = this.deps.retryDelaysSeconds;
      const delay = delays[Math.min(attempt - 1, delays.length - 1)] ?? 0;
      await this.deps.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.info.queueUrl,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: delay,
        }),
      );
      return;
    }
    this.counters.deadLettered += 1;
    await this.deps.deadLetter(event, result, body);
    await this.delete(message);
  }

  private async delete(message: Message): Promise<void> {
    await this.deps.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.info.queueUrl, ReceiptHandle: message.ReceiptHandle }),
    );
  }
}
