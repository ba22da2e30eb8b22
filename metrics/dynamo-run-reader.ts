/**
 * DynamoDB adapter of the liveness ports: reads the sparse, keys-only `active` index (Select COUNT for
 * totals; the keys of runs created before the cut-off, whose items it then reads by key with a
 * projection, for stale runs), reads stage items by key with a projection, and keeps the
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
import { ItemReadError, UnreadableRunError } from './errors.js';
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
    const [total, stale] = await Promise.all([
      this.count(this.activeQuery(workflow)),
      this.count(this.createdByQuery(workflow, staleAtOrBefore)),
    ]);
    return { total, stale };
  }

  async listStale(
    workflow: string,
    staleAtOrBefore: string,
  ): Promise<{ runs: ActiveRun[]; unreadable: UnreadableRunError[] }> {
    const runs: ActiveRun[] = [];
    const unreadable: UnreadableRunError[] = [];
    for (const item of await this.staleCandidates(workflow, staleAtOrBefore)) {
      const parsed = toActiveRun(item);
      if (parsed instanceof UnreadableRunError) unreadable.push(parsed);
      else runs.push(parsed);
    }
    return { runs, unreadable };
  }

  /**
   * Active run items not updated after the cut-off. The `active` index projects keys only, and its sort
   * key starts with the run's creation time: only runs created by the cut-off can be stale, so only
   * those are read from the table (a run updated since it was read is dropped, as is one that finished).
   */
  private async staleCandidates(workflow: string, staleAtOrBefore: string): Promise<Item[]> {
    const keys: Item[] = [];
    const query = this.createdByQuery(workflow, staleAtOrBefore);
    let startKey: Item | undefined;
    do {
      const page: QueryCommandOutput = await this.client.send(
        new QueryCommand({
          ...query,
          // The liveness role may only Query with COUNT or SPECIFIC_ATTRIBUTES (see liveness-function.ts).
          Select: 'SPECIFIC_ATTRIBUTES',
          ProjectionExpression: '#pk, #sk',
          ExpressionAttributeNames: { ...query.ExpressionAttributeNames, '#pk': PK, '#sk': SK },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const entry of page.Items ?? []) keys.push({ [PK]: entry[PK], [SK]: entry[SK] });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    const stale: Item[] = [];
    for (const batch of chunk(keys, MAX_BATCH_GET_KEYS)) {
      for (const item of await this.batchGet(batch, RUN_PROJECTION)) {
        const updatedAt = item.updatedAt;
        const active = item[activeIndex.partitionKey] === workflow;
        // An unreadable updatedAt is kept, so that listStale reports it instead of hiding the run.
        if (active && (typeof updatedAt !== 'string' || updatedAt <= staleAtOrBefore)) stale.push(item);
      }
    }
    return stale;
  }

  async stageUpdatedAt(refs: readonly StageRef[]): Promise<ReadonlyMap<string, string>> {
    const byKey = new Map<string, string>();
    const refsByItemKey = new Map(refs.map((ref) => [itemKeyString(stageItemKey(ref)), ref]));
    const uniqueKeys = [...refsByItemKey.values()].map(stageItemKey);
    for (const batch of chunk(uniqueKeys, MAX_BATCH_GET_KEYS)) {
      for (const item of await this.batchGet(batch, STAGE_PROJECTION)) {
        const ref = refsByItemKey.get(itemKeyString({ [PK]: item[PK], [SK]: item[SK] }));
        if (ref && typeof item.updatedAt === 'string') byKey.set(stageRefKey(ref), item.updatedAt);
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

  /** Counts what a query on the `active` index matches, page by page (Select COUNT reads keys only). */
  private async count(query: ActiveQuery): Promise<number> {
    let total = 0;
    let startKey: Item | undefined;
    do {
      const page: QueryCommandOutput = await this.client.send(
        new QueryCommand({ ...query, Select: 'COUNT', ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
      );
      total += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return total;
  }

  /**
   * The active runs of `workflow` created at or before the cut-off: the sort key is
   * `<createdAt>#<uid>`, which sorts before `<cut-off>#\uffff` exactly when createdAt <= cut-off.
   */
  private createdByQuery(workflow: string, staleAtOrBefore: string): ActiveQuery {
    const base = this.activeQuery(workflow);
    return {
      ...base,
      KeyConditionExpression: `${base.KeyConditionExpression} AND #since < :sinceBound`,
      ExpressionAttributeNames: { ...base.ExpressionAttributeNames, '#since': activeIndex.sortKey },
      ExpressionAttributeValues: {
        ...base.ExpressionAttributeValues,
        ':sinceBound': `${staleAtOrBefore}#\uffff`,
      },
    };
  }

  /** The Query of one workflow's entries in the `active` index. */
  private activeQuery(workflow: string): ActiveQuery {
    return {
      TableName: this.tableName,
      IndexName: activeIndex.name,
      KeyConditionExpression: '#active = :workflow',
      ExpressionAttributeNames: { '#active': activeIndex.partitionKey },
      ExpressionAttributeValues: { ':workflow': workflow },
    };
  }

  /** Reads items by key with a projection, asking again for unprocessed keys with a backoff. */
  private async batchGet(keys: readonly Item[], projection: Projection): Promise<Item[]> {
    const items: Item[] = [];
    let pending: Item[] = [...keys];
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > this.maxBatchRetries) throw new ItemReadError(pending.length, this.maxBatchRetries);
      if (attempt > 0) await this.sleep(50 * 2 ** (attempt - 1));
      const output: BatchGetCommandOutput = await this.client.send(
        new BatchGetCommand({
          RequestItems: {
            [this.tableName]: {
              Keys: pending,
              ProjectionExpression: projection.expression,
              ExpressionAttributeNames: { ...projection.names },
            },
          },
        }),
      );
      items.push(...(output.Responses?.[this.tableName] ?? []));
      pending = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return items;
  }
}

interface Projection {
  readonly expression: string;
  readonly names: Readonly<Record<string, string>>;
}

const STAGE_PROJECTION: Projection = {
  expression: '#pk, #sk, #updatedAt',
  names: { '#pk': PK, '#sk': SK, '#updatedAt': 'updatedAt' },
};

/** What liveness needs of a run item (and the index key that says it is still active). */
const RUN_PROJECTION: Projection = {
  expression: '#pk, #workflow, #uid, #createdAt, #updatedAt, #position, #alertedProgress, #active',
  names: {
    '#pk': PK,
    '#workflow': 'workflow',
    '#uid': 'uid',
    '#createdAt': 'createdAt',
    '#updatedAt': 'updatedAt',
    '#position': 'position',
    '#alertedProgress': ALERT_ATTRIBUTES.alertedProgress,
    '#active': activeIndex.partitionKey,
  },
};

interface ActiveQuery {
  readonly TableName: string;
  readonly IndexName: string;
  readonly KeyConditionExpression: string;
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
