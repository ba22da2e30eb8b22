/**
 * Read-only access to the plugin executions of a run, so a plugin can use the results of the plugins
 * that ran before it. Reads only plugin items (`GetItem`, `Query`); it never writes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  decodeHeldPlugin,
  describeIssues,
  HELD_PLUGINS_ATTRIBUTE,
  PLUGIN_ENV,
  type PluginState,
  type PluginStatusItem,
  pluginSk,
  pluginStatusItemSchema,
  runPk,
  STAGE_NAMES,
  type StageName,
  stageSk,
  TABLE_LAYOUT,
} from '../contracts/index.js';
import { dynamoDbStatusStore } from './dynamodb-status-store.js';
import { ConfigurationError, errorMessage, isPluginKitError, StatusReadError } from './errors.js';
import type { StatusItemStore } from './ports.js';

/** Identifies one plugin execution: the run, the activity stage and the plugin. */
export interface PluginStatusKey {
  readonly workflow: string;
  readonly uid: string;
  readonly activity: string;
  readonly stage: StageName;
  readonly plugin: string;
}

/** What a plugin may know about another plugin's execution in its run. */
export interface PluginStatus extends PluginStatusKey {
  readonly state: PluginState;
  /** The run generation (1, then +1 per rerun). */
  readonly generation: number;
  /** The current attempt (0 before the first dispatch). */
  readonly attempt: number;
  readonly mandatory: boolean | undefined;
  readonly message: string | undefined;
  /** The `PluginError.code` of an `Error`, when the plugin gave one. */
  readonly errorCode: string | undefined;
  /** What the plugin returned with `Complete` (JSON, at most LIMITS.resultBytes). */
  readonly result: unknown;
  readonly updatedAt: string | undefined;
}

export interface StatusReaderOptions {
  /** @default the `PLUGBOARD_STATUS_TABLE` environment variable (set by the CDK construct) */
  readonly tableName?: string;
  /** @default DynamoDB through `dynamoDbClient` */
  readonly store?: StatusItemStore;
  /** Used by the default store. @default a client created on first read */
  readonly dynamoDbClient?: DynamoDBClient;
}

export interface StatusReader {
  /** One plugin execution (consistent read unless `consistent: false`), or `undefined` if none exists. */
  getPlugin(
    key: PluginStatusKey,
    options?: { readonly consistent?: boolean },
  ): Promise<PluginStatus | undefined>;
  /** The plugin executions of a run, optionally of one activity (and stage), in key order. */
  listPlugins(
    run: { readonly workflow: string; readonly uid: string },
    filter?: { readonly activity?: string; readonly stage?: StageName; readonly consistent?: boolean },
  ): Promise<PluginStatus[]>;
}

/**
 * Creates a read-only reader of the status table. The plugin's role needs `dynamodb:GetItem` (and
 * `dynamodb:Query` for `listPlugins`): `OrchestratorPlugin#grantReadStatus()` grants both.
 *
 * @example
 * ```ts
 * const status = createStatusReader();
 * export const handler = orchestratorWrapperSns(info, async (message) => {
 *   const enrich = await status.getPlugin({ ...message, stage: 'pre', plugin: 'enrich' });
 *   if (enrich?.state !== 'Complete') throw new PluginError('enrich has not completed');
 *   return { total: computeTotal(enrich.result) };
 * });
 * ```
 */
export function createStatusReader(options: StatusReaderOptions = {}): StatusReader {
  let store = options.store;
  const storeOnce = (): StatusItemStore => {
    store ??= dynamoDbStatusStore(options.dynamoDbClient ?? new DynamoDBClient({}));
    return store;
  };
  const tableName = (): string => options.tableName ?? statusTableFromEnvironment();

  return {
    async getPlugin(key, readOptions) {
      const table = tableName();
      const pk = runPk(key.workflow, key.uid);
      const consistentRead = readOptions?.consistent ?? true;
      // A narrow stage holds its plugins in its own item; a wide one keeps an item per plugin. Both
      // are read: the newer generation wins (an operator's mark for a rerun is an item of its own).
      const [stageItem, item] = await guard(`reading the status of plugin "${key.plugin}"`, () =>
        Promise.all([
          storeOnce().getItem({
            tableName: table,
            key: { pk, sk: stageSk(key.activity, key.stage) },
            consistentRead,
          }),
          storeOnce().getItem({
            tableName: table,
            key: { pk, sk: pluginSk(key.activity, key.stage, key.plugin) },
            consistentRead,
          }),
        ]),
      );
      const held = stageItem ? heldStatuses(stageItem, key).find((s) => s.plugin === key.plugin) : undefined;
      const own = item === undefined ? undefined : toPluginStatus(item, key);
      return newest([...(held ? [held] : []), ...(own ? [own] : [])])[0];
    },
    async listPlugins(run, filter) {
      const table = tableName();
      const scope =
        filter?.activity === undefined
          ? ''
          : filter.stage === undefined
            ? `${filter.activity}#`
            : `${filter.activity}#${filter.stage}`;
      const pk = runPk(run.workflow, run.uid);
      const consistentRead = filter?.consistent ?? true;
      const [stageItems, items] = await guard(`listing the plugins of run "${run.uid}"`, () =>
        Promise.all([
          storeOnce().query({ tableName: table, pk, skPrefix: `STAGE#${scope}`, consistentRead }),
          storeOnce().query({
            tableName: table,
            pk,
            skPrefix:
              filter?.activity !== undefined && filter.stage !== undefined
                ? `PLUGIN#${scope}#`
                : `PLUGIN#${scope}`,
            consistentRead,
          }),
        ]),
      );
      const held = stageItems.flatMap((item) => heldStatuses(item, stageKeyFromItem(item, run)));
      const own = items.map((item) => toPluginStatus(item, keyFromItem(item, run)));
      const statuses = newest([...held, ...own]);
      return filter?.stage === undefined ? statuses : statuses.filter((s) => s.stage === filter.stage);
    },
  };
}

/** The plugin statuses a stage item holds (none for a wide stage's item). */
function heldStatuses(item: Record<string, unknown>, stage: Omit<PluginStatusKey, 'plugin'>): PluginStatus[] {
  const entries = item[HELD_PLUGINS_ATTRIBUTE];
  if (typeof entries !== 'object' || entries === null) return [];
  const generation = item.generation;
  const createdAt = typeof item.createdAt === 'string' ? item.createdAt : new Date(0).toISOString();
  return Object.entries(entries as Record<string, unknown>).map(([plugin, entry]) => {
    const fields = decodeHeldPlugin(entry, createdAt);
    if (typeof fields === 'string' || typeof generation !== 'number') {
      throw new StatusReadError(
        `The status of plugin "${plugin}" held by stage ${stage.activity}/${stage.stage} of run "${stage.uid}" is not a plugin status: ${typeof fields === 'string' ? fields : '"generation" is missing'}`,
      );
    }
    return {
      ...stage,
      plugin,
      state: fields.state,
      generation,
      attempt: fields.attempt,
      mandatory: fields.mandatory,
      message: fields.message,
      errorCode: fields.errorCode,
      result: fields.result,
      updatedAt: fields.updatedAt,
    };
  });
}

/** One status per plugin, the newest generation (a held one on a tie), in key order. */
function newest(statuses: readonly PluginStatus[]): PluginStatus[] {
  const byKey = new Map<string, PluginStatus>();
  const id = (s: PluginStatus) => `${s.activity}#${s.stage}#${s.plugin}`;
  for (const status of statuses) {
    const kept = byKey.get(id(status));
    if (!kept || status.generation > kept.generation) byKey.set(id(status), status);
  }
  return [...byKey.values()].sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

function stageKeyFromItem(
  item: Record<string, unknown>,
  run: { workflow: string; uid: string },
): Omit<PluginStatusKey, 'plugin'> {
  const value = item[TABLE_LAYOUT.sortKey];
  const sk = typeof value === 'string' ? value : '';
  const [, activity = '', stage = ''] = sk.split('#');
  const stageName = STAGE_NAMES.find((name) => name === stage);
  if (stageName === undefined)
    throw new StatusReadError(`The status item "${sk}" of run "${run.uid}" is not a stage item`);
  return { workflow: run.workflow, uid: run.uid, activity, stage: stageName };
}

/** Reads `PLUGBOARD_STATUS_TABLE`, failing with the variable's name when it is not set. */
export function statusTableFromEnvironment(): string {
  const value = process.env[PLUGIN_ENV.statusTable];
  if (!value) {
    throw new ConfigurationError(
      `${PLUGIN_ENV.statusTable} is not set: deploy the plugin with OrchestratorPlugin (it sets it), set it to the name the core stack exports, or pass statusTableName in the options`,
      PLUGIN_ENV.statusTable,
    );
  }
  return value;
}

/** Parses a stored item as a plugin status; `key` names the item in errors and fills what it lacks. */
export function toPluginStatus(item: Record<string, unknown>, key: PluginStatusKey): PluginStatus {
  const parsed = pluginStatusItemSchema.safeParse(item);
  if (!parsed.success) {
    throw new StatusReadError(
      `The status item of plugin "${key.plugin}" (${key.workflow}/${key.uid}, ${key.activity}/${key.stage}) is not a plugin status: ${describeIssues(parsed.error)}`,
    );
  }
  const status: PluginStatusItem = parsed.data;
  return {
    workflow: status.workflow ?? key.workflow,
    uid: status.uid ?? key.uid,
    activity: status.activity ?? key.activity,
    stage: key.stage,
    plugin: status.plugin ?? key.plugin,
    state: status.state,
    generation: status.generation,
    attempt: status.attempt,
    mandatory: status.mandatory,
    message: status.message ?? undefined,
    errorCode: status.errorCode ?? undefined,
    result: status.result,
    updatedAt: status.updatedAt,
  };
}

function keyFromItem(item: Record<string, unknown>, run: { workflow: string; uid: string }): PluginStatusKey {
  const value = item[TABLE_LAYOUT.sortKey];
  const sk = typeof value === 'string' ? value : '';
  const [, activity = '', stage = '', plugin = ''] = sk.split('#');
  const stageName = STAGE_NAMES.find((name) => name === stage);
  if (stageName === undefined) {
    throw new StatusReadError(`The status item "${sk}" of run "${run.uid}" is not a plugin execution item`);
  }
  return { workflow: run.workflow, uid: run.uid, activity, stage: stageName, plugin };
}

async function guard<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (isPluginKitError(error)) throw error;
    throw new StatusReadError(`Failed ${what}: ${errorMessage(error)}`, { cause: error });
  }
}
