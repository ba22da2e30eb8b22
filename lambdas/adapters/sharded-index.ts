/**
 * Reads one workflow's entries of a sharded index (ADR 0010) in one order, as if it were one partition:
 * every shard's partition (and the legacy one of runs written before sharding) is queried in parallel,
 * and the entries are merged by sort value. The position of a read is one sort value per partition, so
 * a page token or cursor carries all of them; a partition that has nothing left is marked done.
 *
 * Entries are taken one at a time from per-partition buffers; a buffer that runs dry is refilled (all
 * dry ones at once, in parallel) before the next entry is chosen. A caller that uses only part of what
 * it took asks for the position after the part it used (`positionsAfter`).
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Item } from './status-items.js';

export interface IndexShape {
  readonly name: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

/** Per partition, in the order of `partitions`: the last sort value used, `null` when done, `''` when unread. */
export type IndexPositions = readonly (string | null)[];

export interface IndexEntry {
  readonly item: Item;
  readonly partition: number;
  readonly sort: string;
}

export interface ShardedIndexReaderOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly index: IndexShape;
  /** The partition values to read (`indexPartitions`). */
  readonly partitions: readonly string[];
  /** Newest first (descending sort values) or oldest first. */
  readonly descending: boolean;
  /** Sort value bounds: inclusive lower, exclusive upper (as the API's since/until). */
  readonly from?: string;
  readonly before?: string;
  /** The index start key that stands for a sort value of a partition (to resume after it). */
  readonly startKey: (partition: string, sort: string) => Item;
  /** Where to resume (from a page token); every partition from its start when absent. */
  readonly positions?: IndexPositions;
  /** Entries asked per query at most. @default 100 */
  readonly chunk?: number;
}

interface Buffer {
  items: IndexEntry[];
  startKey: Item | undefined;
  done: boolean;
  position: string | null;
}

export class ShardedIndexReader {
  private readonly buffers: Buffer[];
  private readonly chunk: number;
  /** Queries sent so far (for the benchmark and tests). */
  queries = 0;

  constructor(private readonly options: ShardedIndexReaderOptions) {
    this.chunk = options.chunk ?? 100;
    const positions = options.positions ?? options.partitions.map(() => '');
    this.buffers = options.partitions.map((partition, i) => {
      const stored = positions[i];
      const position = stored === undefined ? '' : stored;
      return {
        items: [],
        startKey: position ? options.startKey(partition, position) : undefined,
        done: position === null,
        position,
      };
    });
  }

  /** Up to `n` entries in merged order (fewer only when every partition is exhausted). */
  async take(n: number): Promise<IndexEntry[]> {
    const taken: IndexEntry[] = [];
    while (taken.length < n) {
      await this.refill(n - taken.length);
      let best: Buffer | undefined;
      for (const buffer of this.buffers) {
        const head = buffer.items[0];
        if (head === undefined) continue;
        const current = best?.items[0];
        if (
          current === undefined ||
          (this.options.descending ? head.sort > current.sort : head.sort < current.sort)
        ) {
          best = buffer;
        }
      }
      const entry = best?.items.shift();
      if (best === undefined || entry === undefined) break;
      best.position = entry.sort;
      taken.push(entry);
    }
    return taken;
  }

  /** Whether every partition is read to its end. */
  get exhausted(): boolean {
    return this.buffers.every((b) => b.done && b.items.length === 0);
  }

  /** The position after every entry taken so far, per partition (`null` = nothing left there). */
  positions(): IndexPositions {
    return this.buffers.map((b) => (b.done && b.items.length === 0 ? null : b.position));
  }

  /**
   * The position after the first `used` of `taken` (the entries of one `take`, started at `before`):
   * a page that stops inside a batch it took resumes right after its last entry.
   */
  positionsAfter(before: IndexPositions, taken: readonly IndexEntry[], used: number): IndexPositions {
    const after = [...before];
    for (const entry of taken.slice(0, used)) after[entry.partition] = entry.sort;
    const unused = new Set(taken.slice(used).map((e) => e.partition));
    return after.map((position, i) => {
      const buffer = this.buffers[i] as Buffer;
      return position !== null && buffer.done && buffer.items.length === 0 && !unused.has(i)
        ? null
        : position;
    });
  }

  private async refill(wanted: number): Promise<void> {
    const dry = this.buffers
      .map((buffer, i) => ({ buffer, i }))
      .filter(({ buffer }) => buffer.items.length === 0 && !buffer.done);
    if (dry.length === 0) return;
    // Ask each partition for about its share of what is still wanted, at least 10, at most a chunk.
    const per = Math.min(this.chunk, Math.max(10, Math.ceil((wanted * 2) / this.buffers.length)));
    await Promise.all(dry.map(({ buffer, i }) => this.fetch(buffer, i, per)));
  }

  private async fetch(buffer: Buffer, i: number, limit: number): Promise<void> {
    const { index, from, before } = this.options;
    const partition = this.options.partitions[i] as string;
    const names: Record<string, string> = { '#p': index.partitionKey };
    const values: Record<string, unknown> = { ':p': partition };
    let condition = '#p = :p';
    if (from !== undefined || before !== undefined) names['#s'] = index.sortKey;
    if (from !== undefined && before !== undefined) {
      condition += ' AND #s BETWEEN :a AND :b';
      values[':a'] = from;
      values[':b'] = before;
    } else if (from !== undefined) {
      condition += ' AND #s >= :a';
      values[':a'] = from;
    } else if (before !== undefined) {
      condition += ' AND #s < :b';
      values[':b'] = before;
    }
    this.queries += 1;
    const output = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.tableName,
        IndexName: index.name,
        KeyConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: !this.options.descending,
        Limit: limit,
        ...(buffer.startKey !== undefined ? { ExclusiveStartKey: buffer.startKey } : {}),
      }),
    );
    const entries = (output.Items ?? []).map((item) => ({
      item,
      partition: i,
      sort: String(item[index.sortKey]),
    }));
    // BETWEEN is inclusive at both ends; the upper bound is exclusive for readers.
    const kept = before === undefined ? entries : entries.filter((e) => e.sort < before);
    buffer.items.push(...kept);
    buffer.startKey = output.LastEvaluatedKey as Item | undefined;
    buffer.done = buffer.startKey === undefined;
  }
}

/** A sort value of the `active` and `runs` indexes: `<createdAt ISO>#<uid>`. */
const RUN_SORT_VALUE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)#(.+)$/;

/** The uid a run index sort value ends with, or undefined when it is not one. */
export function uidOfRunSort(sort: string): string | undefined {
  return RUN_SORT_VALUE.exec(sort)?.[2];
}

/**
 * Checks positions decoded from a token: one per partition, each `null`, `''` or a run sort value
 * whose uid passes `validUid`. Returns the problem, or the positions.
 */
export function checkRunPositions(
  value: unknown,
  partitions: number,
  validUid: (uid: string) => boolean,
): IndexPositions | string {
  if (!Array.isArray(value)) return 'it holds no positions';
  if (value.length !== partitions) {
    return `it holds ${value.length} shard positions, and this deployment reads ${partitions} (its shard count changed)`;
  }
  for (const position of value) {
    if (position === null || position === '') continue;
    if (typeof position !== 'string') return 'a position is not a string';
    const uid = uidOfRunSort(position);
    if (uid === undefined || !validUid(uid)) return 'a position is malformed';
  }
  return value as IndexPositions;
}
