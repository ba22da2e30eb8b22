/**
 * Counts the billable requests the engine's SDK clients actually send, at the SDK middleware layer of
 * the orchestra harness (test/support/orchestra.ts: the real handlers and adapters in-process against
 * moto). Nothing is estimated from the code: every SNS publish, SQS request and DynamoDB request is
 * seen on its way out, and DynamoDB capacity units are computed from the item images before and after
 * each write (read with an unmetered client) and from the items each read returned.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  DynamoDBClient,
  type ServiceInputTypes as DynamoInput,
  type ServiceOutputTypes as DynamoOutput,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import type {
  SNSClient,
  ServiceInputTypes as SnsInput,
  ServiceOutputTypes as SnsOutput,
} from '@aws-sdk/client-sns';
import type {
  SQSClient,
  ServiceInputTypes as SqsInput,
  ServiceOutputTypes as SqsOutput,
} from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { BuildMiddleware, InitializeMiddleware } from '@smithy/types';
import { TABLE_LAYOUT } from '../lambdas/contracts/index.js';
import {
  type AttributeValue,
  type IndexKeys,
  type Item,
  indexWriteUnits,
  itemSize,
  type ReadMode,
  readUnits,
  writeUnits,
} from './dynamo-units.js';

/** The port method (e.g. `store.recordFinalOutcomes`) a DynamoDB request is sent for, when known. */
export const callSite = new AsyncLocalStorage<string>();

export interface MethodUnits {
  requests: number;
  writeUnits: number;
  readUnits: number;
}

/** Bytes per billed SNS/SQS request chunk (both services bill every started 64 KB as one request). */
export const CHUNK_BYTES = 64 * 1024;

/** Where an SQS request belongs in the cost model. */
export type SqsRole =
  /** Commands the engine sends to inboxes (start-stage, retries). */
  | 'engineSend'
  /** Reports plugins send to an inbox (plugin-side, but on the orchestration bill). */
  | 'pluginReport'
  /** Receives of an inbox: Lambda's event-source pollers in a deployment. */
  | 'pollReceive'
  /** Deletes of handled inbox messages: Lambda's event-source pollers in a deployment. */
  | 'pollDelete'
  /** The harness's stand-in for SNS delivering to a plugin (plugin queues, events queue). */
  | 'harness';

export interface RequestCount {
  requests: number;
  chunks: number;
  bytes: number;
}

export type LambdaKind = 'start' | 'stage';

/** One AWS call a handler invocation made, in the order it was sent. */
export interface CallRecord {
  readonly service: 'dynamodb' | 'sns' | 'sqs';
  /** The API operation without `Command` (`PutItem`, `Publish`, `SendMessage`, ...). */
  readonly operation: string;
  /** Global order of the call among every recorded call (ties impossible). */
  readonly seq: number;
  /** When the call was sent and when its answer came back (`performance.now()`, ms). */
  readonly startedMs: number;
  endedMs: number;
  /** A publish to a stage topic: the plugin message it carried. */
  readonly dispatch?: {
    readonly uid: string;
    readonly generation: number;
    readonly activity: string;
    readonly stage: string;
    readonly plugins: readonly string[];
    readonly attempt: number;
  };
  /** A publish to the events topic: the lifecycle event type. */
  readonly eventType?: string;
  /** An engine command sent to an inbox: its kind and the message ids SQS gave it. */
  readonly command?: { readonly kind: string; readonly activity: string; readonly stage: string };
  messageIds?: string[];
}

/** A message an invocation's batch held: engine command or plugin report. */
export interface ReceivedRecord {
  readonly messageId: string;
  /** `report`, or the command's kind (`start-stage`, `retry`, `timeout`). */
  readonly kind: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly activity?: string;
  readonly stage?: string;
  readonly plugin?: string;
  readonly attempt?: number;
  readonly status?: string;
}

/**
 * One handler invocation as the harness made it: a start call, or one inbox batch handed to a stage
 * handler (between the receive and the delete of that batch), with the AWS calls it sent in order.
 */
export interface InvocationRecord {
  readonly kind: LambdaKind;
  /** The inbox's queue URL (stage invocations). */
  readonly inboxUrl?: string;
  readonly received: readonly ReceivedRecord[];
  readonly calls: CallRecord[];
}

export interface Counts {
  /** Publishes to stage topics (dispatches to plugins). */
  snsPublish: RequestCount;
  /** Publishes to the lifecycle events topic. */
  snsEvents: RequestCount;
  sqs: Record<SqsRole, RequestCount>;
  dynamo: {
    requests: Record<string, number>;
    /** Write units billed on the table (transactions at 2×, failed conditions included). */
    tableWriteUnits: number;
    /** Write units billed on the global secondary indexes. */
    indexWriteUnits: number;
    readUnits: number;
    failedConditionalWrites: number;
    /** Item writes (one per Put/Update/Delete/ConditionCheck, transaction items included). */
    itemWrites: number;
    largestItemBytes: number;
    /** Requests and units per port method that sent them. */
    byMethod: Record<string, MethodUnits>;
  };
  lambda: Record<LambdaKind, { invocations: number; durationsMs: number[] }>;
  logs: { emfLines: number; emfBytes: number; logLines: number; logBytes: number };
}

function emptyRequestCount(): RequestCount {
  return { requests: 0, chunks: 0, bytes: 0 };
}

export function emptyCounts(): Counts {
  return {
    snsPublish: emptyRequestCount(),
    snsEvents: emptyRequestCount(),
    sqs: {
      engineSend: emptyRequestCount(),
      pluginReport: emptyRequestCount(),
      pollReceive: emptyRequestCount(),
      pollDelete: emptyRequestCount(),
      harness: emptyRequestCount(),
    },
    dynamo: {
      requests: {},
      tableWriteUnits: 0,
      indexWriteUnits: 0,
      readUnits: 0,
      failedConditionalWrites: 0,
      itemWrites: 0,
      largestItemBytes: 0,
      byMethod: {},
    },
    lambda: { start: { invocations: 0, durationsMs: [] }, stage: { invocations: 0, durationsMs: [] } },
    logs: { emfLines: 0, emfBytes: 0, logLines: 0, logBytes: 0 },
  };
}

const INDEXES: readonly IndexKeys[] = [TABLE_LAYOUT.activeIndex, TABLE_LAYOUT.runsIndex];
const utf8 = (s: string | undefined): number => (s ? Buffer.byteLength(s, 'utf8') : 0);

function attributesBytes(attributes: unknown): number {
  if (!attributes || typeof attributes !== 'object') return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes as Record<string, Record<string, unknown>>)) {
    bytes += utf8(name) + utf8(String(value.DataType ?? ''));
    if (typeof value.StringValue === 'string') bytes += utf8(value.StringValue);
    if (value.BinaryValue instanceof Uint8Array) bytes += value.BinaryValue.length;
  }
  return bytes;
}

function add(count: RequestCount, bytes: number): void {
  count.requests += 1;
  count.bytes += bytes;
  count.chunks += Math.max(1, Math.ceil(bytes / CHUNK_BYTES));
}

interface WriteTarget {
  readonly key: Item;
  readonly transactional: boolean;
  /** The item a Put writes (its size bills even when its condition fails). */
  readonly putItem?: Item;
}

export interface MeterOptions {
  readonly endpoint: string;
  readonly tableName: string;
  /** Whether a queue URL is a stage inbox (as opposed to a plugin queue or the events queue). */
  readonly isInbox: (queueUrl: string) => boolean;
  /**
   * Read the item before and after every write to bill the larger image and the index writes
   * exactly. Adds two unmetered GetItems per item written: use it for cost runs, not timing runs.
   */
  readonly images: boolean;
  /**
   * Record every handler invocation with the calls it sent, in order (`invocations`). Only for runs
   * handled one at a time: calls are attributed to the invocation between an inbox batch's receive
   * and its delete.
   */
  readonly traceInvocations?: boolean;
}

/** The requests of the engine and its plugins, counted while `recording`. */
export class Meter {
  counts: Counts = emptyCounts();
  recording = false;
  /** Handler invocations with their calls in order (when `traceInvocations` is on). */
  invocations: InvocationRecord[] = [];
  /** Distinct custom metrics (namespace, name, dimension names and values) seen in EMF lines. */
  readonly metricSeries = new Set<string>();
  private open: InvocationRecord | undefined;
  private seq = 0;
  private readonly raw: DynamoDBClient;
  private readonly received = new Map<string, number>();

  constructor(private readonly options: MeterOptions) {
    this.raw = new DynamoDBClient({
      endpoint: options.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  }

  reset(): void {
    this.counts = emptyCounts();
    this.received.clear();
    this.invocations = [];
    this.open = undefined;
    this.metricSeries.clear();
  }

  /** Hands over the invocations recorded so far and starts a new list. */
  takeInvocations(): InvocationRecord[] {
    this.open = undefined;
    const taken = this.invocations;
    this.invocations = [];
    return taken;
  }

  /** Opens the record of a start-function invocation (closed by `endInvocation`). */
  beginStart(): void {
    this.begin({ kind: 'start', received: [], calls: [] });
  }

  endInvocation(): void {
    this.open = undefined;
  }

  private begin(record: InvocationRecord): void {
    if (!this.recording || !this.options.traceInvocations) return;
    this.invocations.push(record);
    this.open = record;
  }

  /** Starts the record of one call in the open invocation; returns a function that ends it. */
  private call(service: CallRecord['service'], operation: string, extra: Partial<CallRecord> = {}) {
    const invocation = this.open;
    if (!invocation) return undefined;
    this.seq += 1;
    const now = performance.now();
    const record: CallRecord = { service, operation, seq: this.seq, startedMs: now, endedMs: now, ...extra };
    invocation.calls.push(record);
    return record;
  }

  /** Adds the counting middleware to the harness's clients (once per client). */
  attach(clients: { sqs: SQSClient; sns: SNSClient; documentClient: DynamoDBDocumentClient }): void {
    clients.sns.middlewareStack.add(this.snsMiddleware(), {
      step: 'initialize',
      name: 'benchMeterSns',
    });
    clients.sqs.middlewareStack.add(this.sqsMiddleware(), {
      step: 'initialize',
      name: 'benchMeterSqs',
    });
    // At the build step the Document client has marshalled the input to DynamoDB JSON.
    clients.documentClient.middlewareStack.add(this.dynamoMiddleware(), {
      step: 'build',
      name: 'benchMeterDynamo',
    });
  }

  /** Records one start-function invocation of `durationMs`. */
  recordStart(durationMs: number): void {
    if (!this.recording) return;
    this.counts.lambda.start.invocations += 1;
    this.counts.lambda.start.durationsMs.push(durationMs);
  }

  /** Counts one line the handlers wrote to stdout (EMF if it carries the `_aws` metadata). */
  recordLogLine(line: string): void {
    if (!this.recording || line.trim() === '') return;
    const bytes = utf8(line) + 1;
    if (line.includes('"_aws"')) {
      this.counts.logs.emfLines += 1;
      this.counts.logs.emfBytes += bytes;
      for (const series of emfSeries(line)) this.metricSeries.add(series);
    } else {
      this.counts.logs.logLines += 1;
      this.counts.logs.logBytes += bytes;
    }
  }

  private snsMiddleware(): InitializeMiddleware<SnsInput, SnsOutput> {
    return (next, context) => async (args) => {
      if (this.recording && context.commandName === 'PublishCommand') {
        const input = args.input as { TopicArn?: string; Message?: string; MessageAttributes?: unknown };
        const isEvent = input.TopicArn?.endsWith('-events') === true;
        const target = isEvent ? this.counts.snsEvents : this.counts.snsPublish;
        add(target, utf8(input.Message) + attributesBytes(input.MessageAttributes));
        const body = parseBody(input.Message);
        const record = this.call(
          'sns',
          'Publish',
          isEvent
            ? { eventType: String(body.type ?? '') }
            : {
                dispatch: {
                  uid: String(body.uid ?? ''),
                  generation: Number(body.generation ?? 0),
                  activity: String(body.activity ?? ''),
                  stage: String(body.stage ?? ''),
                  plugins: Array.isArray(body.plugins) ? body.plugins.map(String) : [],
                  attempt: Number(body.attempt ?? 0),
                },
              },
        );
        const result = await next(args);
        if (record) record.endedMs = performance.now();
        return result;
      }
      return next(args);
    };
  }

  private sqsMiddleware(): InitializeMiddleware<SqsInput, SqsOutput> {
    return (next, context) => async (args) => {
      if (!this.recording) return next(args);
      const input = args.input as {
        QueueUrl?: string;
        MessageBody?: string;
        MessageAttributes?: unknown;
        Entries?: readonly { MessageBody?: string; MessageAttributes?: unknown }[];
      };
      const url = input.QueueUrl ?? '';
      const inbox = this.options.isInbox(url);
      const sqs = this.counts.sqs;
      switch (context.commandName) {
        case 'SendMessageCommand': {
          const bytes = utf8(input.MessageBody) + attributesBytes(input.MessageAttributes);
          if (!inbox) add(sqs.harness, bytes);
          else add(isReport(input.MessageBody) ? sqs.pluginReport : sqs.engineSend, bytes);
          const body = parseBody(input.MessageBody);
          const record = this.call('sqs', 'SendMessage', {
            command: {
              kind: String(body.kind ?? ''),
              activity: String(body.activity ?? ''),
              stage: String(body.stage ?? ''),
            },
          });
          const result = await next(args);
          if (record) {
            record.endedMs = performance.now();
            const id = (result.output as { MessageId?: string }).MessageId;
            record.messageIds = id ? [id] : [];
          }
          return result;
        }
        case 'SendMessageBatchCommand': {
          const entries = input.Entries ?? [];
          const bytes = entries.reduce(
            (sum, e) => sum + utf8(e.MessageBody) + attributesBytes(e.MessageAttributes),
            0,
          );
          if (!inbox) add(sqs.harness, bytes);
          else add(entries.some((e) => isReport(e.MessageBody)) ? sqs.pluginReport : sqs.engineSend, bytes);
          const first = parseBody(entries[0]?.MessageBody);
          const record = this.call('sqs', 'SendMessageBatch', {
            command: {
              kind: String(first.kind ?? ''),
              activity: String(first.activity ?? ''),
              stage: String(first.stage ?? ''),
            },
          });
          const result = await next(args);
          if (record) {
            record.endedMs = performance.now();
            const ok = (result.output as { Successful?: readonly { MessageId?: string }[] }).Successful ?? [];
            record.messageIds = ok.flatMap((m) => (m.MessageId ? [m.MessageId] : []));
          }
          return result;
        }
        case 'ReceiveMessageCommand': {
          const result = await next(args);
          const output = result.output as { Messages?: readonly { Body?: string; MessageId?: string }[] };
          const messages = output.Messages ?? [];
          const bytes = messages.reduce((sum, m) => sum + utf8(m.Body), 0);
          add(inbox ? sqs.pollReceive : sqs.harness, bytes);
          if (inbox && messages.length > 0) {
            this.received.set(url, performance.now());
            this.begin({
              kind: 'stage',
              inboxUrl: url,
              received: messages.map((m) => receivedRecord(m.MessageId ?? '', m.Body)),
              calls: [],
            });
          }
          return result;
        }
        case 'DeleteMessageBatchCommand':
        case 'DeleteMessageCommand': {
          add(inbox ? sqs.pollDelete : sqs.harness, 0);
          const receivedAt = this.received.get(url);
          if (inbox && receivedAt !== undefined) {
            // The harness calls the stage handler between the receive and the delete of a batch.
            this.received.delete(url);
            this.counts.lambda.stage.invocations += 1;
            this.counts.lambda.stage.durationsMs.push(performance.now() - receivedAt);
            this.endInvocation();
          }
          return next(args);
        }
        default:
          add(sqs.harness, 0);
          return next(args);
      }
    };
  }

  private dynamoMiddleware(): BuildMiddleware<DynamoInput, DynamoOutput> {
    return (next, context) => async (args) => {
      if (!this.recording) return next(args);
      const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      const dynamo = this.counts.dynamo;
      dynamo.requests[operation] = (dynamo.requests[operation] ?? 0) + 1;
      const site = callSite.getStore() ?? 'other';
      const method = dynamo.byMethod[site] ?? { requests: 0, writeUnits: 0, readUnits: 0 };
      dynamo.byMethod[site] = method;
      method.requests += 1;
      const input = args.input as Record<string, unknown>;
      const record = this.call('dynamodb', operation);
      const send = async () => {
        const result = await next(args);
        if (record) record.endedMs = performance.now();
        return result;
      };
      const targets = writeTargets(operation, input);
      if (targets.length > 0) return this.meterWrites(targets, method, send);
      const result = await send();
      const units = this.readUnitsOf(operation, input, result.output as unknown as Record<string, unknown>);
      dynamo.readUnits += units;
      method.readUnits += units;
      return result;
    };
  }

  private async meterWrites<T>(
    targets: readonly WriteTarget[],
    method: MethodUnits,
    send: () => Promise<T>,
  ): Promise<T> {
    const dynamo = this.counts.dynamo;
    dynamo.itemWrites += targets.length;
    if (!this.options.images) return send();
    const before = await Promise.all(targets.map((t) => this.image(t.key)));
    let failed = false;
    try {
      return await send();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      const after = failed ? before : await Promise.all(targets.map((t) => this.image(t.key)));
      if (failed) dynamo.failedConditionalWrites += targets.length;
      targets.forEach((target, i) => {
        const old = before[i];
        const next = after[i];
        const newBytes = failed ? itemSize(target.putItem ?? old) : itemSize(next);
        const oldBytes = itemSize(old);
        dynamo.largestItemBytes = Math.max(dynamo.largestItemBytes, oldBytes, newBytes);
        const table = writeUnits(oldBytes, newBytes, target.transactional);
        const index = failed
          ? 0
          : INDEXES.reduce((sum, i) => sum + indexWriteUnits(old, next, i, TABLE_LAYOUT), 0);
        dynamo.tableWriteUnits += table;
        dynamo.indexWriteUnits += index;
        method.writeUnits += table + index;
      });
    }
  }

  /** Read units of one read request, from the items it returned. */
  private readUnitsOf(
    operation: string,
    input: Record<string, unknown>,
    output: Record<string, unknown>,
  ): number {
    const mode: ReadMode = input.ConsistentRead === true ? 'strong' : 'eventual';
    const size = (item: unknown) =>
      item
        ? itemSize(
            marshall(item as Record<string, unknown>, { removeUndefinedValues: true }) as unknown as Item,
          )
        : 0;
    if (operation === 'Get' || operation === 'GetItem') return readUnits(size(output.Item), mode);
    if (operation === 'Query' || operation === 'Scan') {
      // Billed on the items read before any filter: the scanned count tells how many were read; the
      // filtered-out ones are assumed as large as the returned ones.
      const items = (output.Items as readonly unknown[] | undefined) ?? [];
      const bytes = items.reduce<number>((sum, item) => sum + size(item), 0);
      const scanned = Number(output.ScannedCount ?? items.length);
      const scale = items.length > 0 && scanned > items.length ? scanned / items.length : 1;
      return readUnits(bytes * scale, mode);
    }
    if (operation === 'TransactGet' || operation === 'TransactGetItems') {
      const responses = (output.Responses as readonly { Item?: unknown }[] | undefined) ?? [];
      return responses.reduce((sum, r) => sum + readUnits(size(r.Item), 'transactional'), 0);
    }
    return 0;
  }

  private async image(key: Item): Promise<Item | undefined> {
    const response = await this.raw.send(
      new GetItemCommand({
        TableName: this.options.tableName,
        Key: key as never,
        ConsistentRead: true,
      }),
    );
    return response.Item as unknown as Item | undefined;
  }
}

/**
 * The custom metrics one EMF line defines: one per metric name and dimension set, identified by the
 * namespace, the name and the dimensions' values (what CloudWatch bills as one metric).
 */
export function emfSeries(line: string): string[] {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
  } catch {
    return [];
  }
  const aws = doc._aws as { CloudWatchMetrics?: unknown } | undefined;
  const directives = Array.isArray(aws?.CloudWatchMetrics) ? aws.CloudWatchMetrics : [];
  const out: string[] = [];
  for (const d of directives as {
    Namespace?: string;
    Dimensions?: string[][];
    Metrics?: { Name?: string }[];
  }[]) {
    const sets = d.Dimensions && d.Dimensions.length > 0 ? d.Dimensions : [[]];
    for (const metric of d.Metrics ?? []) {
      for (const set of sets) {
        const dims = [...set]
          .sort()
          .map((k) => `${k}=${String(doc[k] ?? '')}`)
          .join(',');
        out.push(`${d.Namespace ?? ''}/${metric.Name ?? ''}{${dims}}`);
      }
    }
  }
  return out;
}

function parseBody(body: string | undefined): Record<string, unknown> {
  if (!body) return {};
  try {
    const parsed = JSON.parse(body) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function receivedRecord(messageId: string, body: string | undefined): ReceivedRecord {
  const b = parseBody(body);
  const opt = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    messageId,
    kind: String(b.kind ?? ''),
    ...opt('uid', typeof b.uid === 'string' ? b.uid : undefined),
    ...opt('generation', typeof b.generation === 'number' ? b.generation : undefined),
    ...opt('activity', typeof b.activity === 'string' ? b.activity : undefined),
    ...opt('stage', typeof b.stage === 'string' ? b.stage : undefined),
    ...opt('plugin', typeof b.plugin === 'string' ? b.plugin : undefined),
    ...opt('attempt', typeof b.attempt === 'number' ? b.attempt : undefined),
    ...opt('status', typeof b.status === 'string' ? b.status : undefined),
  };
}

function isReport(body: string | undefined): boolean {
  if (!body) return false;
  try {
    return (JSON.parse(body) as { kind?: unknown }).kind === 'report';
  } catch {
    return false;
  }
}

function keyOf(item: Item): Item {
  const pk = item[TABLE_LAYOUT.partitionKey] as AttributeValue;
  const sk = item[TABLE_LAYOUT.sortKey] as AttributeValue;
  return { [TABLE_LAYOUT.partitionKey]: pk, [TABLE_LAYOUT.sortKey]: sk };
}

/** The items a write request touches, in DynamoDB JSON. */
export function writeTargets(operation: string, input: Record<string, unknown>): WriteTarget[] {
  switch (operation) {
    case 'Put':
    case 'PutItem': {
      const item = input.Item as Item;
      return [{ key: keyOf(item), transactional: false, putItem: item }];
    }
    case 'Update':
    case 'UpdateItem':
    case 'Delete':
    case 'DeleteItem':
      return [{ key: input.Key as Item, transactional: false }];
    case 'TransactWrite':
    case 'TransactWriteItems': {
      const items = (input.TransactItems as readonly Record<string, Record<string, unknown>>[]) ?? [];
      return items.map((entry) => {
        if (entry.Put) {
          const item = entry.Put.Item as Item;
          return { key: keyOf(item), transactional: true, putItem: item };
        }
        const body = entry.Update ?? entry.Delete ?? entry.ConditionCheck ?? {};
        return { key: body.Key as Item, transactional: true };
      });
    }
    case 'BatchWrite':
    case 'BatchWriteItem': {
      const requests = Object.values(
        (input.RequestItems as Record<string, readonly Record<string, Record<string, unknown>>[]>) ?? {},
      ).flat();
      return requests.map((r) =>
        r.PutRequest
          ? {
              key: keyOf(r.PutRequest.Item as Item),
              transactional: false,
              putItem: r.PutRequest.Item as Item,
            }
          : { key: r.DeleteRequest?.Key as Item, transactional: false },
      );
    }
    default:
      return [];
  }
}
