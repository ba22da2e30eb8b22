/**
 * Part of the plugin API: the plugin kit reads plugin status with these keys (read-only).
 * The status table's physical layout, shared by the DynamoDB adapters and the CDK table construct so
 * the two can never disagree. One table holds runs, stages, plugin executions and the plugin registry.
 *
 * | item               | pk                           | sk                                   |
 * |--------------------|------------------------------|--------------------------------------|
 * | run                | `RUN#<workflow>#<uid>`       | `RUN`                                |
 * | stage              | `RUN#<workflow>#<uid>`       | `STAGE#<activity>#<stage>`           |
 * | plugin execution   | `RUN#<workflow>#<uid>`       | `PLUGIN#<activity>#<stage>#<plugin>` |
 * | registration       | `REG#<activity>#<stage>`     | `<plugin>`                           |
 *
 * Sparse indexes (only run items carry their keys). Both project keys only: an update of a run that does
 * not change its index keys (its position, its state while active) then writes no index entry, which
 * keeps each stage transition at one write unit. Readers fetch the run items by key after the query.
 *
 * - `active`: `activeWorkflow` = `<workflow>#<shard>` while the run is not finished, `activeSince` =
 *   `<createdAt>#<uid>`. The attribute is removed when the run finishes, so the index holds only active runs.
 * - `runs`: `runsWorkflow` = `<workflow>#<shard>`, `runsSort` = `<createdAt>#<uid>`: every run, newest first.
 * - `due`: `dueShard` = `<workflow>#<shard>` while the run is not finished, `dueAt` = the ISO time by which
 *   the sweeper looks at the run (never after the deadline of any attempt in flight): oldest first.
 *
 * The shard (`indexShard`) is a stable hash of the uid modulo the deployment's shard count (ADR 0010), so
 * no index partition takes more than 1/shards of a workflow's writes. Runs written before ADR 0010 carry
 * the bare workflow name as their index value; readers read that legacy partition too.
 *
 * Every item carries `expiresAt` (epoch seconds) for the table's TTL: runs are kept for a configurable
 * retention after they are created.
 */
export const TABLE_LAYOUT = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'expiresAt',
  activeIndex: {
    name: 'active',
    partitionKey: 'activeWorkflow',
    sortKey: 'activeSince',
    projection: 'KEYS_ONLY',
  },
  runsIndex: { name: 'runs', partitionKey: 'runsWorkflow', sortKey: 'runsSort', projection: 'KEYS_ONLY' },
  dueIndex: { name: 'due', partitionKey: 'dueShard', sortKey: 'dueAt', projection: 'KEYS_ONLY' },
} as const;

/** Index shards per workflow when the deployment does not set `statusTable.indexShards` (ADR 0010). */
export const DEFAULT_INDEX_SHARDS = 16;
/** The most index shards a deployment may set (readers query every shard in parallel). */
export const MAX_INDEX_SHARDS = 64;
/**
 * The sweeper looks at an active run at least this often (ADR 0010): a run's `dueAt` is never later than
 * this after the sweeper's last look, so an attempt dispatched with a longer deadline needs no write to
 * the run; one with a shorter deadline moves `dueAt` earlier when it is dispatched.
 */
export const DUE_REVISIT_SECONDS = 60;

/** The shard of a run: FNV-1a (32 bit) of its uid, modulo the shard count. Stable across releases. */
export function indexShard(uid: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < uid.length; i += 1) {
    hash ^= uid.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** The index partition value of one shard of a workflow (`order#07`). */
export const shardKey = (workflow: string, shard: number): string =>
  `${workflow}#${String(shard).padStart(2, '0')}`;

/**
 * Every partition value a reader of a workflow's index must query: each shard, then the bare workflow
 * name under which runs written before ADR 0010 are indexed.
 */
export function indexPartitions(workflow: string, shards: number): string[] {
  return [...Array.from({ length: shards }, (_, shard) => shardKey(workflow, shard)), workflow];
}

/** Whether an index value (`activeWorkflow`, `runsWorkflow`, `dueShard`) belongs to `workflow`. */
export const isPartitionOf = (value: unknown, workflow: string): boolean =>
  value === workflow || (typeof value === 'string' && value.startsWith(`${workflow}#`));

export const runPk = (workflow: string, uid: string): string => `RUN#${workflow}#${uid}`;
export const RUN_SK = 'RUN';
export const stageSk = (activity: string, stage: string): string => `STAGE#${activity}#${stage}`;
export const pluginSk = (activity: string, stage: string, plugin: string): string =>
  `PLUGIN#${activity}#${stage}#${plugin}`;
export const pluginSkPrefix = (activity: string, stage: string): string => `PLUGIN#${activity}#${stage}#`;
export const registrationPk = (activity: string, stage: string): string => `REG#${activity}#${stage}`;
