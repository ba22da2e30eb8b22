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
 * - `active`: `activeWorkflow` = workflow while the run is not finished, `activeSince` = `<createdAt>#<uid>`.
 *   The attribute is removed when the run finishes, so the index holds only active runs.
 * - `runs`: `runsWorkflow` = workflow, `runsSort` = `<createdAt>#<uid>`: every run, newest first.
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
} as const;

export const runPk = (workflow: string, uid: string): string => `RUN#${workflow}#${uid}`;
export const RUN_SK = 'RUN';
export const stageSk = (activity: string, stage: string): string => `STAGE#${activity}#${stage}`;
export const pluginSk = (activity: string, stage: string, plugin: string): string =>
  `PLUGIN#${activity}#${stage}#${plugin}`;
export const pluginSkPrefix = (activity: string, stage: string): string => `PLUGIN#${activity}#${stage}#`;
export const registrationPk = (activity: string, stage: string): string => `REG#${activity}#${stage}`;
