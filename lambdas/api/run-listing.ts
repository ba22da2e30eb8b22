/**
 * The API's read-only run listing: `Query` on the sparse `active` index (runs in progress) or the
 * `runs` index (every run), newest first, bounded by creation time; never a scan. Both indexes
 * project keys only, so the run items are read by key afterwards (BatchGetItem, strongly consistent).
 * A state other than `In Progress` is filtered after that read, so such a page may hold fewer runs
 * than `limit` while a `nextCursor` still says more may follow.
 *
 * The cursor is opaque to clients but validated here: it is bound to the query that produced it
 * (workflow, index, state, since, until) and holds only the last sort value, from which the index's
 * start key is rebuilt, so a forged cursor can at most start the same query somewhere else.
 */
import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { defaultDocumentClient } from '../adapters/ddb-client.js';
import { type Item, keyAttributes, runItemKey, toRunRecord } from '../adapters/status-items.js';
import { type RunState, STATES, TABLE_LAYOUT, UID } from '../contracts/index.js';
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
const MAX_EXAMINED = 500;
const BATCH_GET_KEYS = 100;
const BATCH_GET_ATTEMPTS = 5;
const SORT_VALUE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)#(.+)$/;

interface CursorBody {
  readonly v: 1;
  readonly w: string;
  readonly i: string;
  readonly s?: string;
  readonly a?: string;
  readonly b?: string;
  readonly k: string;
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

  constructor(
    private readonly options: { readonly tableName: string; readonly client?: DynamoDBDocumentClient },
  ) {
    this.client = options.client ?? defaultDocumentClient();
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
    let startKey =
      query.cursor === undefined ? undefined : this.startKeyOf(query.cursor, binding, index, query.workflow);

    // DynamoDB refuses names the expression does not use: `#s` only with a time bound.
    const names: Record<string, string> = {
      '#w': index.partitionKey,
      ...(since !== undefined || until !== undefined ? { '#s': index.sortKey } : {}),
    };
    const values: Record<string, unknown> = { ':w': query.workflow };
    let condition = '#w = :w';
    if (since !== undefined && until !== undefined) {
      condition += ' AND #s BETWEEN :a AND :b';
      values[':a'] = since;
      values[':b'] = until;
    } else if (since !== undefined) {
      condition += ' AND #s >= :a';
      values[':a'] = since;
    } else if (until !== undefined) {
      condition += ' AND #s < :b';
      values[':b'] = until;
    }

    const runs: RunRecord[] = [];
    let examined = 0;
    let lastSort: string | undefined;
    let more = false;
    do {
      const want = filter === undefined ? query.limit - runs.length : Math.min(100, MAX_EXAMINED - examined);
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          IndexName: index.name,
          KeyConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ScanIndexForward: false,
          Limit: want,
          ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      const entries = output.Items ?? [];
      examined += entries.length;
      const items = await this.batchGet(entries.map((entry) => keysOf(entry)));
      for (const entry of entries) {
        if (runs.length >= query.limit) {
          more = true;
          break;
        }
        lastSort = String(entry[index.sortKey]);
        const item = items.get(`${String(entry.pk)}|${String(entry.sk)}`);
        if (item === undefined) continue; // expired or finished in between
        const run = toRunRecord(item);
        if (filter !== undefined && run.state !== filter) continue;
        if (active && run.state !== STATES.inProgress) continue;
        runs.push(run);
      }
      startKey = output.LastEvaluatedKey as Item | undefined;
      if (more) break;
      more = startKey !== undefined;
    } while (more && runs.length < query.limit && examined < MAX_EXAMINED);

    if (!more || lastSort === undefined) return { runs };
    const body: CursorBody = { v: 1, ...binding, k: lastSort };
    return { runs, nextCursor: Buffer.from(JSON.stringify(body)).toString('base64url') };
  }

  /** The index start key a cursor stands for, after checking that it belongs to this query. */
  private startKeyOf(
    cursor: string,
    binding: Omit<CursorBody, 'v' | 'k'>,
    index: { readonly partitionKey: string; readonly sortKey: string },
    workflow: string,
  ): Item {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      throw badCursor('it is not a cursor this API issued');
    }
    if (typeof body !== 'object' || body === null) throw badCursor('it is not a cursor this API issued');
    const c = body as Partial<CursorBody>;
    if (c.v !== 1 || typeof c.k !== 'string') throw badCursor('it is not a cursor this API issued');
    if (
      c.w !== binding.w ||
      c.i !== binding.i ||
      c.s !== binding.s ||
      c.a !== binding.a ||
      c.b !== binding.b
    ) {
      throw badCursor('it belongs to another query (workflow, state, since or until differ)');
    }
    const match = SORT_VALUE.exec(c.k);
    const uid = match?.[2];
    if (match === null || uid === undefined || !UID.test(uid)) throw badCursor('its position is malformed');
    if ((c.a !== undefined && c.k < c.a) || (c.b !== undefined && c.k > c.b)) {
      throw badCursor('its position is outside since/until');
    }
    return {
      ...keyAttributes(runItemKey({ workflow, uid })),
      [index.partitionKey]: workflow,
      [index.sortKey]: c.k,
    };
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
