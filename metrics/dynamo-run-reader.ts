/**
 * DynamoDB adapter of the liveness ports: reads the sparse `active` index (Select COUNT for totals, a
 * projection for the few stale runs), reads stage items by key with a projection, and keeps the
 * alert ledger on the run item with conditional writes. Never scans.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { RUN_SK, runPk, stageSk, TABLE_LAYOUT } from '../plugin-kit/src/contracts/table-layout.js';
import { StageReadError, UnreadableRunError } from './errors.js';
import { type ActiveRun, chunk } from './liveness.js';
import type { ActiveRunReader, AlertLedger, StageRef } from './monitor.js';
import { stageRefKey } from './monitor.js';
import { ALERT_ATTRIBUTES } from './names.js';

/** BatchGetItem takes at most 100 keys. */
const MAX_BATCH_GET_KEYS = 100;

export interface DynamoRunReaderOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Retries of unprocessed BatchGetItem keys before giving up. @default 5 */
  readonly maxBatchRetries?: number;
  /** Waits between those retries (tests pass a no-op). @default exponential, from 50 ms */
  readonly sleep?: (ms: number) => Promise<void>;
}

const { partitionKey: PK, sortKey: SK, activeIndex } = TABLE_LAYOUT;
type Item = Record<string, unknown>;

export class DynamoRunReader implements ActiveRunReader, AlertLedger {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly maxBatchRetries: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: DynamoRunReaderOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.maxBatchRetries = options.maxBatchRetries ?? 5;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async countActive(workflow: string, staleAtOrBefore: string): Promise<{ total: number; stale: number }> {
    let total = 0;
    let stale = 0;
    let startKey: Item | undefined;
    do {
      const page: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          ...this.staleQuery(workflow, staleAtOrBefore),
          Select: 'COUNT',
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      // With a filter, ScannedCount is every active run read and Count those that passed the filter.
      total += page.ScannedCount ?? 0;
      stale += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { total, stale };
  }

  async listStale(
    workflow: string,
    staleAtOrBefore: string,
  ): Promise<{ runs: ActiveRun[]; unreadable: UnreadableRunError[] }> {
    const runs: ActiveRun[] = [];
    const unreadable: UnreadableRunError[] = [];
    const base = this.staleQuery(workflow, staleAtOrBefore);
    let startKey: Item | undefined;
    do {
      const page: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          ...base,
          Select: 'SPECIFIC_ATTRIBUTES',
          ProjectionExpression: '#pk, #workflow, #uid, #createdAt, #updatedAt, #position, #alertedProgress',
          ExpressionAttributeNames: {
            ...base.ExpressionAttributeNames,
            '#pk': PK,
            '#workflow': 'workflow',
            '#uid': 'uid',
            '#createdAt': 'createdAt',
            '#position': 'position',
            '#alertedProgress': ALERT_ATTRIBUTES.alertedProgress,
          },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const parsed = toActiveRun(item);
        if (parsed instanceof UnreadableRunError) unreadable.push(parsed);
        else runs.push(parsed);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return { runs, unreadable };
  }

  async stageUpdatedAt(refs: readonly StageRef[]): Promise<ReadonlyMap<string, string>> {
    const byKey = new Map<string, string>();
    const refsByItemKey = new Map(refs.map((ref) => [itemKeyString(stageItemKey(ref)), ref]));
    const uniqueKeys = [...refsByItemKey.values()].map(stageItemKey);
    for (const batch of chunk(uniqueKeys, MAX_BATCH_GET_KEYS)) {
      let keys: Item[] = batch;
      for (let attempt = 0; keys.length > 0; attempt += 1) {
        if (attempt > this.maxBatchRetries) throw new StageReadError(keys.length, this.maxBatchRetries);
        if (attempt > 0) await this.sleep(50 * 2 ** (attempt - 1));
        const output: BatchGetCommandOutput = await this.client.send(
          new BatchGetCommand({
            RequestItems: {
              [this.tableName]: {
                Keys: keys,
                ProjectionExpression: '#pk, #sk, #updatedAt',
                ExpressionAttributeNames: { '#pk': PK, '#sk': SK, '#updatedAt': 'updatedAt' },
              },
            },
          }),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) {
          const ref = refsByItemKey.get(itemKeyString({ [PK]: item[PK], [SK]: item[SK] }));
          if (ref && typeof item.updatedAt === 'string') byKey.set(stageRefKey(ref), item.updatedAt);
        }
        keys = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return byKey;
  }

  async claim(run: ActiveRun, progress: string, at: Date): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: runPk(run.workflow, run.uid), [SK]: RUN_SK },
          UpdateExpression: 'SET #alertedAt = :at, #alertedProgress = :progress',
          // Still active, not updated since it was read, and not alerted for this same progress.
          ConditionExpression:
            'attribute_exists(#active) AND #updatedAt = :updatedAt AND ' +
            '(attribute_not_exists(#alertedProgress) OR #alertedProgress <> :progress)',
          ExpressionAttributeNames: {
            '#alertedAt': ALERT_ATTRIBUTES.alertedAt,
            '#alertedProgress': ALERT_ATTRIBUTES.alertedProgress,
            '#active': activeIndex.partitionKey,
            '#updatedAt': 'updatedAt',
          },
          ExpressionAttributeValues: {
            ':at': at.toISOString(),
            ':progress': progress,
            ':updatedAt': run.updatedAt,
          },
          ReturnValues: 'NONE',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(run: ActiveRun, progress: string, at: Date): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [PK]: runPk(run.workflow, run.uid), [SK]: RUN_SK },
          UpdateExpression: 'REMOVE #alertedAt, #alertedProgress',
          ConditionExpression: '#alertedAt = :at AND #alertedProgress = :progress',
          ExpressionAttributeNames: {
            '#alertedAt': ALERT_ATTRIBUTES.alertedAt,
            '#alertedProgress': ALERT_ATTRIBUTES.alertedProgress,
          },
          ExpressionAttributeValues: { ':at': at.toISOString(), ':progress': progress },
          ReturnValues: 'NONE',
        }),
      );
    } catch (error) {
      // Someone else's claim replaced ours (or the run is gone): nothing of ours left to undo.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** The Query on the `active` index that keeps only runs whose run item is not newer than the cut-off. */
  private staleQuery(workflow: string, staleAtOrBefore: string): StaleQuery {
    return {
      TableName: this.tableName,
      IndexName: activeIndex.name,
      KeyConditionExpression: '#active = :workflow',
      FilterExpression: '#updatedAt <= :cutoff',
      ExpressionAttributeNames: { '#active': activeIndex.partitionKey, '#updatedAt': 'updatedAt' },
      ExpressionAttributeValues: { ':workflow': workflow, ':cutoff': staleAtOrBefore },
    };
  }
}

interface StaleQuery {
  readonly TableName: string;
  readonly IndexName: string;
  readonly KeyConditionExpression: string;
  readonly FilterExpression: string;
  readonly ExpressionAttributeNames: Readonly<Record<string, string>>;
  readonly ExpressionAttributeValues: Readonly<Record<string, string>>;
}

function stageItemKey(ref: StageRef): Item {
  return { [PK]: runPk(ref.workflow, ref.uid), [SK]: stageSk(ref.activity, ref.stage) };
}

function itemKeyString(key: Item): string {
  return JSON.stringify([key[PK], key[SK]]);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the projected run item; returns the problem instead of throwing so one bad item skips only itself. */
export function toActiveRun(item: Item): ActiveRun | UnreadableRunError {
  const pk = typeof item[PK] === 'string' ? item[PK] : '(no pk)';
  const { workflow, uid, createdAt, updatedAt, position } = item;
  const alertedProgress = item[ALERT_ATTRIBUTES.alertedProgress];
  if (typeof workflow !== 'string' || typeof uid !== 'string') {
    return new UnreadableRunError(pk, '"workflow" and "uid" must be strings');
  }
  if (typeof updatedAt !== 'string' || Number.isNaN(Date.parse(updatedAt))) {
    return new UnreadableRunError(
      pk,
      `"updatedAt" must be an ISO-8601 time, but is ${JSON.stringify(updatedAt)}`,
    );
  }
  let runPosition: ActiveRun['position'];
  if (position !== undefined) {
    if (!isRecord(position) || typeof position.activity !== 'string' || typeof position.stage !== 'string') {
      return new UnreadableRunError(pk, '"position" must be a map { activity, stage } of strings');
    }
    runPosition = { activity: position.activity, stage: position.stage };
  }
  return {
    workflow,
    uid,
    updatedAt,
    ...(typeof createdAt === 'string' ? { createdAt } : {}),
    ...(runPosition ? { position: runPosition } : {}),
    ...(typeof alertedProgress === 'string' ? { alertedProgress } : {}),
  };
}
