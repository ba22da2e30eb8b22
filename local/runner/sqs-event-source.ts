/**
 * An SQS event source mapping, run by the runner instead of moto (moto would try Docker): pollers
 * long-poll the queue, gather a batch (BatchSize, MaximumBatchingWindowInSeconds), invoke the function
 * with a real-shaped SQS event and delete what succeeded. With ReportBatchItemFailures only the items
 * named in `batchItemFailures` stay; without it a failed invocation leaves the whole batch. What stays
 * reappears after the queue's visibility timeout, and moto's redrive moves it to the DLQ once its
 * receive count passes maxReceiveCount, as on AWS.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { messageOf, RunnerStoppedError } from '../errors.js';
import { sqsRecord } from './events.js';
import type { InvocationResult } from './function-pool.js';
import type { QueueActivity } from './queue-activity.js';

export interface SqsEventSourceDefinition {
  /** The mapping's UUID (its physical ID). */
  readonly uuid: string;
  readonly queueArn: string;
  readonly queueUrl: string;
  readonly functionName: string;
  /** @default 10 */
  readonly batchSize: number;
  /** @default 0 */
  readonly maximumBatchingWindowSeconds: number;
  /** `FunctionResponseTypes: [ReportBatchItemFailures]`. */
  readonly reportBatchItemFailures: boolean;
  /** ScalingConfig.MaximumConcurrency, if set. */
  readonly maximumConcurrency?: number;
  readonly enabled: boolean;
}

export interface SqsEventSourceStats {
  readonly batches: number;
  readonly messagesDelivered: number;
  readonly messagesDeleted: number;
  readonly failedInvocations: number;
  readonly failedItems: number;
}

export interface SqsEventSourceDeps {
  readonly sqs: SQSClient;
  readonly region: string;
  readonly pollers: number;
  readonly waitSeconds: number;
  readonly invoke: (event: unknown) => Promise<InvocationResult>;
  readonly warn: (message: string) => void;
  /** Divides the batching window (a demo may compress time). @default 1 */
  readonly windowSpeedUp?: number;
  /** Hints that a message was sent to the queue (from the AWS proxy); without it the poller sleeps. */
  readonly activity?: QueueActivity;
}

/** Which messages of a batch to delete, given the invocation's result (AWS's documented rules). */
export function messagesToDelete(
  messages: readonly Message[],
  result: InvocationResult,
  reportBatchItemFailures: boolean,
): Message[] {
  if (!result.ok) return [];
  if (!reportBatchItemFailures) return [...messages];
  const payload = result.payload;
  if (payload === null || typeof payload !== 'object') return [...messages];
  const failures: unknown = Reflect.get(payload, 'batchItemFailures');
  if (failures === null || failures === undefined) return [...messages];
  if (!Array.isArray(failures)) return [];
  const ids = new Set(messages.map((message) => message.MessageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id: unknown =
      failure !== null && typeof failure === 'object' ? Reflect.get(failure, 'itemIdentifier') : undefined;
    // An empty, missing or unknown identifier makes Lambda treat the whole batch as failed.
    if (typeof id !== 'string' || id === '' || !ids.has(id)) return [];
    failed.add(id);
  }
  return messages.filter((message) => message.MessageId === undefined || !failed.has(message.MessageId));
}

export class SqsEventSource {
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  /** Pollers gather one batch at a time (so a batching window fills one batch), then invoke in parallel. */
  private gathering: Promise<void> = Promise.resolve();
  private counters = {
    batches: 0,
    messagesDelivered: 0,
    messagesDeleted: 0,
    failedInvocations: 0,
    failedItems: 0,
  };

  constructor(
    readonly definition: SqsEventSourceDefinition,
    private readonly deps: SqsEventSourceDeps,
  ) {}

  stats(): SqsEventSourceStats {
    return { ...this.counters };
  }

  start(): void {
    if (!this.definition.enabled || this.deps.pollers < 1 || this.loops.length > 0) return;
    for (let index = 0; index < this.deps.pollers; index += 1) this.loops.push(this.poll());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    this.loops = [];
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      try {
        const messages = await this.gatherExclusively();
        if (messages.length > 0) await this.deliver(messages);
      } catch (error) {
        if (this.stopped || error instanceof RunnerStoppedError) return;
        this.deps.warn(
          `SQS event source ${this.definition.uuid} (${this.definition.queueArn} -> ${this.definition.functionName}): ${messageOf(error)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const response = await this.deps.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.definition.queueUrl,
        MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.abort.signal },
    );
    return response.Messages ?? [];
  }

  private async gatherExclusively(): Promise<Message[]> {
    const previous = this.gathering;
    let release = () => {};
    this.gathering = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return this.stopped ? [] : await this.receiveBatch();
    } finally {
      release();
    }
  }

  /**
   * Receives until the batch is full or the batching window has passed (one receive without a
   * window). SQS long polls wait in whole seconds: the poller long-polls the whole seconds left of
   * the window, then waits out the last fraction of a second for the proxy's hint that a message was
   * sent to the queue (or simply sleeps it without hints) and takes what is there. The batch closes
   * at the end of the window, not up to a second after it, and a full batch goes at once.
   */
  private async receiveBatch(): Promise<Message[]> {
    const { batchSize, maximumBatchingWindowSeconds } = this.definition;
    const batch = await this.receive(batchSize, this.deps.waitSeconds);
    if (batch.length === 0 || maximumBatchingWindowSeconds <= 0) return batch;
    const deadline = Date.now() + (maximumBatchingWindowSeconds * 1000) / (this.deps.windowSpeedUp ?? 1);
    const activity = this.deps.activity;
    // A receive that fills a page (10 messages) may have left more behind: take them without waiting.
    let fullPage = batch.length >= 10;
    while (batch.length < batchSize && !this.stopped) {
      const remaining = deadline - Date.now();
      const wanted = batchSize - batch.length;
      let received: Message[];
      if (fullPage) {
        received = await this.receive(wanted, 0);
      } else if (remaining <= 0) {
        break;
      } else if (remaining >= 1000) {
        received = await this.receive(wanted, Math.min(Math.floor(remaining / 1000), 20));
      } else {
        if (activity !== undefined)
          await activity.wait(this.definition.queueUrl, remaining, this.abort.signal);
        else await sleep(remaining, this.abort.signal);
        if (this.stopped) break;
        received = await this.receive(wanted, 0);
      }
      batch.push(...received);
      fullPage = received.length >= Math.min(10, wanted);
    }
    return batch;
  }

  private async deliver(messages: Message[]): Promise<void> {
    const records = messages.map((message) => sqsRecord(message, this.definition.queueArn, this.deps.region));
    this.counters.batches += 1;
    this.counters.messagesDelivered += messages.length;
    const result = await this.deps.invoke({ Records: records });
    const toDelete = messagesToDelete(messages, result, this.definition.reportBatchItemFailures);
    if (!result.ok) this.counters.failedInvocations += 1;
    this.counters.failedItems += messages.length - toDelete.length;
    for (let start = 0; start < toDelete.length; start += 10) {
      const chunk = toDelete.slice(start, start + 10);
      const response = await this.deps.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.definition.queueUrl,
          Entries: chunk.map((message, index) => ({
            Id: String(index),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
      this.counters.messagesDeleted += response.Successful?.length ?? 0;
      for (const failed of response.Failed ?? []) {
        this.deps.warn(
          `could not delete a message from ${this.definition.queueUrl}: ${failed.Message ?? failed.Code}`,
        );
      }
    }
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
