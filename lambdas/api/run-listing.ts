/**
 * The API's read-only run listing: `Query` on the sparse `active` index (runs in progress) or the
 * `runs` index (every run), newest first, bounded by creation time; never a scan. Both indexes are
 * sharded per workflow (ADR 0010): every shard is queried in parallel and the entries merged by sort
 * value. Both project keys only, so the run items are read by key afterwards (BatchGetItem, strongly
 * consistent). A state other than `In Progress` is filtered after that read; the listing keeps reading
 * until the page is full or the index is exhausted, examining at most {@link MAX_EXAMINED} entries per
 * request (a page cut short by that bound still carries a `nextCursor`).
 *
 * The cursor is opaque to clients but validated here: it is bound to the query that produced it
 * (workflow, index, state, since, until, shard count) and holds only one sort value per shard, from
 * which each shard's start key is rebuilt, so a forged cursor can at most start the same query
 * somewhere else.
 */
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { defaultDocumentClient } from '../adapters/ddb-client.js';
import {
  checkRunPositions,
  type IndexEntry,
  type IndexPositions,
  ShardedIndexReader,
  uidOfRunSort,
} from '../adapters/sharded-index.js';
import { type Item, keyAttributes, runItemKey, toRunRecord } from '../adapters/status-items.js';
import {
  DEFAULT_INDEX_SHARDS,
  indexPartitions,
  type RunState,
  STATES,
  TABLE_LAYOUT,
  UID,
} from '../contracts/index.js';
import type { RunRecord } from '../engine/records.js';
import { ApiProblem, PROBLEM_TYPES } from './problem.js';

export interface RunListQuery {
  readonly workflow: string;
  readonly state?: RunState;
  /** ISO time, inclusive. */
  readonly since?: string;
  /** ISO time, exclusive. */
  readonly until?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export interface RunListPage {
  readonly runs: readonly RunRecord[];
  readonly nextCursor?: string;
}

export interface RunListing {
  list(query: RunListQuery): Promise<RunListPage>;
}

/** Index entries examined per request at most when a state filter thins the pages out. */
export const MAX_EXAMINED = 2000;
const BATCH_GET_KEYS = 100;
const BATCH_GET_ATTEMPTS = 5;

interface CursorBody {
  readonly v: 2;
  readonly w: string;
  readonly i: string;
  readonly s?: string;
  readonly a?: string;
  readonly b?: string;
  /** One position per partition (shards, then the legacy partition). */
  readonly p: IndexPositions;
}

function badCursor(why: string): ApiProblem {
  return new ApiProblem(
    400,
    PROBLEM_TYPES.badRequest,
    `cursor: ${why}. Pass the nextCursor of the previous page unchanged, with the same state, since and until, or leave cursor out to start again.`,
  );
}

/** The normalized ISO form (`…T…sssZ`) that the index's sort values use. */
const normalized = (time: string | undefined): string | undefined =>
  time === undefined ? undefined : new Date(time).toISOString();

export class DynamoRunListing implements RunListing {
  private readonly client: DynamoDBDocumentClient;
  private readonly indexShards: number;

  constructor(
    private readonly options: {
      readonly tableName: string;
      readonly client?: DynamoDBDocumentClient;
      /** @default DEFAULT_INDEX_SHARDS */
      readonly indexShards?: number;
    },
  ) {
    this.client = options.client ?? defaultDocumentClient();
    this.indexShards = options.indexShards ?? DEFAULT_INDEX_SHARDS;
  }

  async list(query: RunListQuery): Promise<RunListPage> {
    const active = query.state === STATES.inProgress;
    const index = active ? TABLE_LAYOUT.activeIndex : TABLE_LAYOUT.runsIndex;
    const since = normalized(query.since);
    const until = normalized(query.until);
    const filter = query.state !== undefined && !active ? query.state : undefined;
    const binding = {
      w: query.workflow,
      i: index.name,
      ...(query.state !== undefined ? { s: query.state } : {}),
      ...(since !== undefined ? { a: since } : {}),
      ...(until !== undefined ? { b: until } : {}),
    };
    const partitions = indexPartitions(query.workflow, this.indexShards);
    const positions =
      query.cursor === undefined ? undefined : positionsOf(query.cursor, binding, partitions.length);
    const reader = new ShardedIndexReader({
      client: this.client,
      tableName: this.options.tableName,
      index,
      partitions,
      descending: true,
      ...(since !== undefined ? { from: since } : {}),
      // Sort values are `<createdAt>#<uid>`: `until` (exclusive) bounds the times before it.
      ...(until !== undefined ? { before: until } : {}),
      startKey: (partition, sort) => ({
        ...keyAttributes(runItemKey({ workflow: query.workflow, uid: uidOfRunSort(sort) ?? '' })),
        [index.partitionKey]: partition,
        [index.sortKey]: sort,
      }),
      ...(positions ? { positions } : {}),
    });

    const runs: RunRecord[] = [];
    let examined = 0;
    let position: IndexPositions = reader.positions();
    let full = false;
    while (runs.length < query.limit && examined < MAX_EXAMINED) {
      const before = reader.positions();
      const want = filter === undefined ? query.limit - runs.length : Math.min(100, MAX_EXAMINED - examined);
      const entries: IndexEntry[] = await reader.take(want);
      if (entries.length === 0) break;
      const items = await this.batchGet(entries.map((entry) => keysOf(entry.item)));
      let used = 0;
      for (const entry of entries) {
        if (runs.length >= query.limit) {
          full = true;
          break;
        }
        used += 1;
        const item = items.get(`${String(entry.item.pk)}|${String(entry.item.sk)}`);
        if (item === undefined) continue; // expired or finished in between
        const run = toRunRecord(item);
        if (filter !== undefined && run.state !== filter) continue;
        if (active && run.state !== STATES.inProgress) continue;
        runs.push(run);
      }
      examined += used;
      position = reader.positionsAfter(before, entries, used);
      if (full) break;
    }
    if (position.every((p) => p === null)) return { runs };
    const body: CursorBody = { v: 2, ...binding, p: position };
    return { runs, nextCursor: Buffer.from(JSON.stringify(body)).toString('base64url') };
  }

  /** Run items by key, strongly consistent, 100 per request, retrying unprocessed keys. */
  private async batchGet(keys: readonly Item[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let from = 0; from < keys.length; from += BATCH_GET_KEYS) {
      let pending: Item[] = keys.slice(from, from + BATCH_GET_KEYS);
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        if (attempt > BATCH_GET_ATTEMPTS) {
          throw new ApiProblem(
            503,
            PROBLEM_TYPES.unavailable,
            'The status table is throttling reads; try again in a few seconds.',
            {},
            { 'retry-after': '2' },
          );
        }
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
        const output = await this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.options.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of output.Responses?.[this.options.tableName] ?? []) {
          found.set(`${String(item.pk)}|${String(item.sk)}`, item);
        }
        pending = (output.UnprocessedKeys?.[this.options.tableName]?.Keys ?? []) as Item[];
      }
    }
    return found;
  }
}

function keysOf(entry: Item): Item {
  return { [TABLE_LAYOUT.partitionKey]: entry.pk, [TABLE_LAYOUT.sortKey]: entry.sk };
}

/** The positions a cursor stands for, after checking that it belongs to this query. */
function positionsOf(
  cursor: string,
  binding: Omit<CursorBody, 'v' | 'p'>,
  partitions: number,
): IndexPositions {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor('it is not a cursor this API issued');
  }
  if (typeof body !== 'object' || body === null) throw badCursor('it is not a cursor this API issued');
  const c = body as Partial<CursorBody>;
  if (c.v !== 2) throw badCursor('it is not a cursor this API issued');
  if (c.w !== binding.w || c.i !== binding.i || c.s !== binding.s || c.a !== binding.a || c.b !== binding.b) {
    throw badCursor('it belongs to another query (workflow, state, since or until differ)');
  }
  const positions = checkRunPositions(c.p, partitions, (uid) => UID.test(uid));
  if (typeof positions === 'string') throw badCursor(positions);
  for (const p of positions) {
    if (!p) continue;
    if ((c.a !== undefined && p < c.a) || (c.b !== undefined && p > c.b)) {
      throw badCursor('a position is outside since/until');
    }
  }
  return positions;
}
