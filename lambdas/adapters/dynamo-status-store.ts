/**
 * The status store on one DynamoDB table (layout: plugin-kit's TABLE_LAYOUT). Every primitive is a
 * single conditional write, or one transaction per 99 outcomes for the count-down; nothing reads,
 * modifies and writes back. A refused condition reports the item as it was, taken from the failed
 * write itself (ReturnValuesOnConditionCheckFailure), so it costs no extra read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type CancellationReason,
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  byteLength,
  HELD_PLUGINS_ATTRIBUTE,
  HELD_STATE_CODES,
  isFinalRunState,
  LIMITS,
  type PluginState,
  pluginSkPrefix,
  type RunState,
  runPk,
  STATES,
  type StageState,
  TABLE_LAYOUT,
} from '../contracts/index.js';
import type {
  ActiveRunPage,
  Clock,
  FinalOutcome,
  PluginPatch,
  RunPatch,
  StagePatch,
  StatusStore,
  Transition,
} from '../engine/ports.js';
import {
  countsDown,
  type PluginKey,
  type PluginRecord,
  type RunKey,
  type RunRecord,
  type RunSnapshot,
  type StageKey,
  type StageRecord,
  type StageView,
} from '../engine/records.js';
import { defaultDocumentClient } from './ddb-client.js';
import { ExpressionBuilder } from './ddb-expression.js';
import {
  ContentionError,
  CorruptItemError,
  CountDownRefusedError,
  InvalidPageTokenError,
  InvalidStoreRequestError,
  ResultTooLargeError,
} from './errors.js';
import {
  applyOutcomes,
  type HeldStage,
  heldUpdate,
  patchedPlugin,
  patchedStage,
  pluginHolds,
} from './held-stage.js';
import {
  COUNTED_NAMES,
  HELD_VERSION,
  type Item,
  type ItemKey,
  itemKind,
  keyAttributes,
  pluginItem,
  pluginItemKey,
  runItem,
  runItemKey,
  stageItem,
  stageItemKey,
  toPluginRecord,
  toRunRecord,
  toStageRecord,
  toStageView,
} from './status-items.js';

export interface DynamoStatusStoreOptions {
  /** The status table (created by the core stack's table construct). */
  readonly tableName: string;
  /** @default - the module-scope client of `ddb-client.ts` */
  readonly client?: DynamoDBDocumentClient;
  /** Days every item is kept after it is created (the table's TTL on `expiresAt`). @default 90 */
  readonly retentionDays?: number;
  /** Source of `updatedAt` and `stateTimes` entries. @default - the system clock */
  readonly clock?: Clock;
  /** Conditional puts in flight at once in `putPluginsIfAbsent`. @default 25 */
  readonly writeConcurrency?: number;
}

const PK = TABLE_LAYOUT.partitionKey;
const SK = TABLE_LAYOUT.sortKey;
const ACTIVE = TABLE_LAYOUT.activeIndex;
const RUNS = TABLE_LAYOUT.runsIndex;

/** A transaction holds at most 100 items: 99 plugin outcomes and the stage's count-down. */
const OUTCOMES_PER_TRANSACTION = 99;
/** Transaction attempts when DynamoDB cancels for a transient reason (conflict, throttling). */
const TRANSACTION_ATTEMPTS = 6;
/** BatchGetItem takes at most 100 keys; unprocessed keys are asked again up to this many times. */
const MAX_BATCH_GET_KEYS = 100;
const BATCH_GET_ATTEMPTS = 6;
const TRANSIENT_CANCELLATION_CODES = new Set([
  'TransactionConflict',
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
]);
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const SECONDS_PER_DAY = 86_400;
/** Tries of a versioned change of a stage that holds its plugins, against concurrent writers. */
const HELD_WRITE_ATTEMPTS = 10;
/** Stage items remembered from the last read or write (a later change then needs no read). */
const REMEMBERED_STAGES = 256;

const systemClock: Clock = { now: () => new Date() };

export class DynamoStatusStore implements StatusStore {
  private readonly tableName: string;
  private readonly client: DynamoDBDocumentClient;
  private readonly retentionSeconds: number;
  private readonly clock: Clock;
  private readonly writeConcurrency: number;
  /**
   * The stage items (that hold their plugins) this store last read or wrote, by key. A change starts
   * from the remembered item and is conditional on its version, so a stale one costs one refused
   * write, which returns the item as it is.
   */
  private readonly remembered = new Map<string, Item>();

  constructor(options: DynamoStatusStoreOptions) {
    const retentionDays = options.retentionDays ?? 90;
    const writeConcurrency = options.writeConcurrency ?? 25;
    const problems = [
      options.tableName ? '' : 'tableName must not be empty',
      retentionDays > 0 ? '' : `retentionDays must be positive (got ${retentionDays})`,
      Number.isInteger(writeConcurrency) && writeConcurrency >= 1
        ? ''
        : `writeConcurrency must be a positive integer (got ${writeConcurrency})`,
    ].filter(Boolean);
    if (problems.length) throw new InvalidStoreRequestError(`DynamoStatusStore: ${problems.join('; ')}.`);
    this.tableName = options.tableName;
    this.client = options.client ?? defaultDocumentClient();
    this.retentionSeconds = Math.round(retentionDays * SECONDS_PER_DAY);
    this.clock = options.clock ?? systemClock;
    this.writeConcurrency = writeConcurrency;
  }

  // ---- runs ----------------------------------------------------------------------------------

  async createRunIfAbsent(run: RunRecord): Promise<{ readonly created: boolean; readonly run: RunRecord }> {
    const existing = await this.putIfAbsent(
      runItem(run, this.expiresAt(run.createdAt)),
      'attribute_not_exists(#pk)',
      { '#pk': PK },
      undefined,
    );
    if (existing === undefined) return { created: true, run };
    return { created: false, run: toRunRecord(existing) };
  }

  async getRun(key: RunKey): Promise<RunRecord | undefined> {
    const item = await this.getItem(runItemKey(key));
    return item && toRunRecord(item);
  }

  async transitionRun(
    key: RunKey,
    from: readonly RunState[],
    patch: RunPatch,
    options: { readonly generation?: number } = {},
  ): Promise<Transition<RunRecord>> {
    const now = this.now();
    const update = this.stateCondition('transitionRun', from);
    if (options.generation !== undefined) update.condition(equals(update, 'generation', options.generation));
    update.set(['updatedAt'], now);
    if (patch.state !== undefined) {
      setState(update, patch.state, now);
      if (isFinalRunState(patch.state)) {
        update.remove([ACTIVE.partitionKey]).remove([ACTIVE.sortKey]);
      } else {
        // Back in the sparse active index (a rerun): same sort value as the `runs` index.
        update.set([ACTIVE.partitionKey], key.workflow).copy([ACTIVE.sortKey], [RUNS.sortKey]);
      }
    }
    setOrRemove(update, 'message', patch.message);
    setOrRemove(update, 'endedAt', patch.endedAt);
    setOrRemove(update, 'position', patch.position);
    if (patch.generation !== undefined) {
      // A rerun is kept for the full retention from now, like the stage and plugin items it writes.
      update.set(['generation'], patch.generation).set([TABLE_LAYOUT.ttlAttribute], this.expiresAt(now));
      if (patch.mark === undefined) update.remove(['marked']);
    }
    if (patch.mark !== undefined) update.add(['marked'], new Set([patch.mark]));
    if (patch.metadata !== undefined) update.set(['metadata'], patch.metadata);
    return this.conditionalUpdate(runItemKey(key), update, toRunRecord);
  }

  // ---- stages --------------------------------------------------------------------------------

  async createStageIfAbsent(
    stage: StageRecord,
    plugins: readonly PluginRecord[] = [],
  ): Promise<{ readonly created: boolean; readonly stage: StageRecord }> {
    if (stage.holdsPlugins) {
      for (const plugin of plugins) {
        checkResultSize(plugin.plugin, plugin.result);
        if (plugin.activity !== stage.activity || plugin.stage !== stage.stage || plugin.uid !== stage.uid) {
          throw new InvalidStoreRequestError(
            `createStageIfAbsent: plugin "${plugin.plugin}" belongs to ${plugin.activity}/${plugin.stage} of run "${plugin.uid}", not to ${stage.activity}/${stage.stage} of run "${stage.uid}".`,
          );
        }
      }
    }
    const item = stageItem(stage, this.expiresAt(stage.createdAt), stage.holdsPlugins ? plugins : undefined);
    const existing = await this.putIfAbsent(
      item,
      'attribute_not_exists(#pk) OR #generation < :generation',
      { '#pk': PK, '#generation': 'generation' },
      { ':generation': stage.generation },
    );
    if (existing === undefined) {
      this.remember(item);
      return { created: true, stage: stage.holdsPlugins ? toStageView(item).stage : stage };
    }
    this.remember(existing);
    return { created: false, stage: toStageRecord(existing) };
  }

  async putPluginsIfAbsent(plugins: readonly PluginRecord[]): Promise<void> {
    for (const plugin of plugins) checkResultSize(plugin.plugin, plugin.result);
    await forEachLimited(plugins, this.writeConcurrency, async (plugin) => {
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            // Kept for the retention from the write: a plugin carried over into a rerun is written
            // again with its old times, and must not expire before the rerun does.
            Item: pluginItem(plugin, this.expiresAt(this.now())),
            ConditionExpression: 'attribute_not_exists(#pk) OR #generation < :generation',
            ExpressionAttributeNames: { '#pk': PK, '#generation': 'generation' },
            ExpressionAttributeValues: { ':generation': plugin.generation },
          }),
        );
      } catch (error) {
        // A record of this generation (or a newer one) exists: it is authoritative, leave it.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    });
  }

  async getStage(key: StageKey): Promise<StageRecord | undefined> {
    const item = await this.readStageItem(key);
    return item && toStageRecord(item);
  }

  async readStage(key: StageKey): Promise<StageView | undefined> {
    const item = await this.readStageItem(key);
    return item && toStageView(item);
  }

  async transitionStage(
    key: StageKey,
    from: readonly StageState[],
    patch: StagePatch,
    options: { readonly generation: number; readonly requireNothingPending?: boolean },
  ): Promise<Transition<StageRecord>> {
    const now = this.now();
    if ((key as Partial<StageRecord>).holdsPlugins) {
      if (from.length === 0) {
        throw new InvalidStoreRequestError('transitionStage: "from" must name at least one state.');
      }
      const { decision } = await this.changeHeld(key, (held) => {
        const holds =
          held !== undefined &&
          from.includes(held.stage.state) &&
          held.stage.generation === options.generation &&
          (!options.requireNothingPending ||
            (held.stage.mandatoryPending === 0 && held.stage.optionalPending === 0));
        if (!held || !holds) return { decision: undefined };
        return {
          next: { stage: patchedStage(held.stage, patch, now), plugins: held.plugins },
          decision: true,
        };
      });
      return this.heldTransition(key, decision === true, (view) => view.stage);
    }
    const update = this.stateCondition('transitionStage', from);
    update.condition(equals(update, 'generation', options.generation));
    if (options.requireNothingPending) {
      // A stage that counts down by name keeps no counters: the engine decided from its names.
      // One that holds its plugins is never completed through a bare key: it completes in the write
      // that counts its last plugin down.
      update.condition(
        `attribute_not_exists(${update.path(HELD_PLUGINS_ATTRIBUTE)}) AND (attribute_exists(${update.path('countdown')}) OR (${equals(update, 'mandatoryPending', 0)} AND ${equals(update, 'optionalPending', 0)}))`,
      );
    }
    update.set(['updatedAt'], now);
    if (patch.state !== undefined) setState(update, patch.state, now);
    setOrRemove(update, 'message', patch.message);
    setOrRemove(update, 'failedPlugin', patch.failedPlugin);
    // A stage that holds its plugins (reached here by a bare key, e.g. a cancel's fence) changes its
    // version too, so that a change decided on the item as it was is refused and decided again.
    update.add([HELD_VERSION], 1);
    return this.conditionalUpdate(stageItemKey(key), update, (item) => {
      this.remember(item);
      return toStageRecord(item);
    });
  }

  // ---- plugins -------------------------------------------------------------------------------

  async getPlugin(key: PluginKey & { readonly inStage?: boolean }): Promise<PluginRecord | undefined> {
    if (key.inStage === false) {
      const item = await this.getItem(pluginItemKey(key));
      return item && toPluginRecord(item);
    }
    // Where the record is depends on its stage: read both, the newer generation wins (an operator's
    // mark for a rerun is its own item while the stage still holds the previous generation).
    const [stageItemRead, pluginItemRead] = await Promise.all([
      this.readStageItem(key),
      key.inStage ? Promise.resolve(undefined) : this.getItem(pluginItemKey(key)),
    ]);
    const held = stageItemRead && toStageView(stageItemRead).plugins?.find((p) => p.plugin === key.plugin);
    const own = pluginItemRead && toPluginRecord(pluginItemRead);
    if (held && own) return own.generation > held.generation ? own : held;
    return held ?? own;
  }

  async transitionPlugin(
    key: PluginKey,
    from: readonly PluginState[],
    patch: PluginPatch,
    options: { readonly generation: number; readonly attempt?: number },
  ): Promise<Transition<PluginRecord>> {
    checkResultSize(key.plugin, patch.result);
    const now = this.now();
    if ((key as Partial<PluginRecord>).inStage) {
      if (from.length === 0) {
        throw new InvalidStoreRequestError('transitionPlugin: "from" must name at least one state.');
      }
      const { decision } = await this.changeHeld(key, (held) => {
        const current = held?.plugins.find((p) => p.plugin === key.plugin);
        if (!held || !pluginHolds(current, from, options.generation, options.attempt))
          return { decision: undefined };
        const plugins = held.plugins.map((p) => (p.plugin === key.plugin ? patchedPlugin(p, patch, now) : p));
        return { next: { stage: { ...held.stage, updatedAt: now }, plugins }, decision: true };
      });
      return this.heldTransition(key, decision === true, (view) =>
        view.plugins?.find((p) => p.plugin === key.plugin),
      );
    }
    const update = this.pluginUpdate('transitionPlugin', from, patch, options, now);
    return this.conditionalUpdate(pluginItemKey(key), update, toPluginRecord);
  }

  async recordFinalOutcomes(
    stage: StageKey & { readonly generation: number; readonly countdown?: StageRecord['countdown'] },
    outcomes: readonly FinalOutcome[],
    options: { readonly recount?: readonly PluginKey[] } = {},
  ): Promise<{
    readonly applied: readonly PluginKey[];
    readonly refused: readonly PluginKey[];
    readonly stage?: StageRecord;
    readonly plugins?: readonly PluginRecord[];
    readonly completed?: boolean;
  }> {
    const stagePrefix = pluginSkPrefix(stage.activity, stage.stage);
    const stagePk = runPk(stage.workflow, stage.uid);
    for (const outcome of outcomes) {
      const key = pluginItemKey(outcome.key);
      if (key.pk !== stagePk || !key.sk.startsWith(stagePrefix)) {
        throw new InvalidStoreRequestError(
          `recordFinalOutcomes: the outcome of plugin "${outcome.key.plugin}" belongs to ${outcome.key.activity}/${outcome.key.stage} of run "${outcome.key.uid}", not to ${stage.activity}/${stage.stage} of run "${stage.uid}".`,
        );
      }
      if (outcome.from.length === 0) {
        throw new InvalidStoreRequestError(
          `recordFinalOutcomes: "from" must name at least one state (plugin "${outcome.key.plugin}").`,
        );
      }
      checkResultSize(outcome.key.plugin, outcome.patch.result);
    }
    // The same plugin twice in one call: the first outcome is tried, the others are refused.
    const unique: FinalOutcome[] = [];
    const refused: PluginKey[] = [];
    const seen = new Set<string>();
    for (const outcome of outcomes) {
      const { sk } = pluginItemKey(outcome.key);
      if (seen.has(sk)) {
        refused.push(outcome.key);
      } else {
        seen.add(sk);
        unique.push(outcome);
      }
    }
    // Callers on the hot path pass the stage they read; others (operators) leave the layout to a read.
    const known = stage as Partial<StageRecord>;
    const layout =
      known.mode !== undefined
        ? known
        : await this.readStageItem(stage).then((item) => item && toStageRecord(item));
    if (layout?.holdsPlugins) return this.recordHeld(stage, outcomes);
    const byName = layout?.countdown !== undefined;
    if (byName) return this.recordByName(stage, unique, refused, options.recount ?? []);
    const applied: PluginKey[] = [];
    for (let start = 0; start < unique.length; start += OUTCOMES_PER_TRANSACTION) {
      const chunk = unique.slice(start, start + OUTCOMES_PER_TRANSACTION);
      const result = await this.countDown(stage, chunk, applied);
      applied.push(...result.applied);
      refused.push(...result.refused);
    }
    return { applied, refused };
  }

  async recordLateReport(key: PluginKey & { readonly inStage?: boolean }): Promise<void> {
    if (key.inStage !== false) {
      try {
        await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyAttributes(stageItemKey(key)),
            UpdateExpression: 'ADD #held.#plugin.#late :one',
            ConditionExpression: 'attribute_exists(#held.#plugin)',
            ExpressionAttributeNames: {
              '#held': HELD_PLUGINS_ATTRIBUTE,
              '#plugin': key.plugin,
              '#late': 'late',
            },
            ExpressionAttributeValues: { ':one': 1 },
          }),
        );
        return;
      } catch (error) {
        // The stage does not hold this plugin: its record is an item of its own.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        if (key.inStage) return;
      }
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyAttributes(pluginItemKey(key)),
          UpdateExpression: 'ADD #late :one',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#late': 'lateReports', '#pk': PK },
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    } catch (error) {
      // No such plugin execution: there is nothing to count the report on.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async claimTimeout(
    key: PluginKey,
    expected: { readonly generation: number; readonly attempt: number },
    now: string,
    resendAfter: string,
  ): Promise<boolean> {
    if ((key as Partial<PluginRecord>).inStage) return this.claimHeldTimeout(key, expected, now, resendAfter);
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyAttributes(pluginItemKey(key)),
          UpdateExpression: 'SET #sent = :now',
          ConditionExpression:
            '#state = :inProgress AND #generation = :generation AND #attempt = :attempt AND (attribute_not_exists(#sent) OR #sent < :resendAfter)',
          ExpressionAttributeNames: {
            '#sent': 'timeoutSentAt',
            '#state': 'state',
            '#generation': 'generation',
            '#attempt': 'attempt',
          },
          ExpressionAttributeValues: {
            ':now': now,
            ':inProgress': STATES.inProgress,
            ':generation': expected.generation,
            ':attempt': expected.attempt,
            ':resendAfter': resendAfter,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  async readRun(key: RunKey): Promise<RunSnapshot | undefined> {
    const items = await this.queryAll({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PK },
      ExpressionAttributeValues: { ':pk': runPk(key.workflow, key.uid) },
    });
    let run: RunRecord | undefined;
    const stages: StageRecord[] = [];
    const plugins: PluginRecord[] = [];
    for (const item of items) {
      const sk = String(item[SK]);
      switch (itemKind(sk)) {
        case 'run':
          run = toRunRecord(item);
          break;
        case 'stage': {
          const view = toStageView(item);
          stages.push(view.stage);
          plugins.push(...(view.plugins ?? []));
          break;
        }
        case 'plugin':
          plugins.push(toPluginRecord(item));
          break;
        default:
          throw new CorruptItemError(String(item[PK]), sk, 'its sort key names no run, stage or plugin');
      }
    }
    return run && { run, stages, plugins: newestPerPlugin(plugins) };
  }

  async listOverduePlugins(key: RunKey, now: string): Promise<readonly PluginRecord[]> {
    // Deadlines of narrow stages are inside their stage items: read the run's stages and plugins.
    const items = await this.queryAll({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PK },
      ExpressionAttributeValues: { ':pk': runPk(key.workflow, key.uid) },
    });
    const plugins = items.flatMap((item) => {
      const sk = String(item[SK]);
      if (sk.startsWith('PLUGIN#')) return [toPluginRecord(item)];
      if (sk.startsWith('STAGE#')) return [...(toStageView(item).plugins ?? [])];
      return [];
    });
    return newestPerPlugin(plugins).filter(
      (p) => p.state === STATES.inProgress && p.deadline !== undefined && p.deadline < now,
    );
  }

  async listStagePlugins(
    key: StageKey,
    options: { readonly withHeld?: boolean } = {},
  ): Promise<readonly PluginRecord[]> {
    const known = key as Partial<StageRecord>;
    // A stage known to hold its plugins is one read; a wide one, or a stage not created yet whose
    // previous generation may hold them (`withHeld`), is a query (and a read).
    if (known.holdsPlugins) return (await this.readStage(key))?.plugins ?? [];
    const readHeld = options.withHeld ?? known.mode === undefined;
    const held = readHeld ? this.readStage(key) : Promise.resolve(undefined);
    const [view, own] = await Promise.all([held, this.queryStagePlugins(key)]);
    return newestPerPlugin([...(view?.plugins ?? []), ...own]);
  }

  private async queryStagePlugins(key: StageKey): Promise<PluginRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
      ExpressionAttributeValues: {
        ':pk': runPk(key.workflow, key.uid),
        ':prefix': pluginSkPrefix(key.activity, key.stage),
      },
    });
    return items.map(toPluginRecord);
  }

  listActiveRuns(
    workflow: string,
    options: { readonly limit?: number; readonly nextToken?: string } = {},
  ): Promise<ActiveRunPage> {
    return this.listIndex('listActiveRuns', ACTIVE, workflow, options);
  }

  listRuns(
    workflow: string,
    options: { readonly limit?: number; readonly nextToken?: string } = {},
  ): Promise<ActiveRunPage> {
    return this.listIndex('listRuns', RUNS, workflow, options);
  }

  // ---- internals -----------------------------------------------------------------------------

  private now(): string {
    return this.clock.now().toISOString();
  }

  /** TTL of an item created at `createdAt` (ISO); the clock's time when it cannot be parsed. */
  private expiresAt(createdAt: string): number {
    const parsed = Date.parse(createdAt);
    const millis = Number.isNaN(parsed) ? this.clock.now().getTime() : parsed;
    return Math.floor(millis / 1000) + this.retentionSeconds;
  }

  private stateCondition(operation: string, from: readonly string[]): ExpressionBuilder {
    if (from.length === 0) {
      throw new InvalidStoreRequestError(`${operation}: "from" must name at least one state.`);
    }
    const update = new ExpressionBuilder();
    return update.condition(update.in('state', from));
  }

  /** A final outcome's update of its plugin: its state, generation and attempt must still hold. */
  private outcomeUpdate(outcome: FinalOutcome, now: string): ExpressionBuilder {
    return this.pluginUpdate(
      'recordFinalOutcomes',
      outcome.from,
      outcome.patch,
      {
        generation: outcome.generation,
        ...(outcome.attempt !== undefined ? { attempt: outcome.attempt } : {}),
      },
      now,
    );
  }

  private pluginUpdate(
    operation: string,
    from: readonly PluginState[],
    patch: PluginPatch,
    options: { readonly generation: number; readonly attempt?: number },
    now: string,
  ): ExpressionBuilder {
    const update = this.stateCondition(operation, from);
    update.condition(equals(update, 'generation', options.generation));
    if (options.attempt !== undefined) update.condition(equals(update, 'attempt', options.attempt));
    update.set(['updatedAt'], now);
    if (patch.state !== undefined) setState(update, patch.state, now);
    if (patch.attempt !== undefined) update.set(['attempt'], patch.attempt);
    if (patch.mandatory !== undefined) update.set(['mandatory'], patch.mandatory);
    setOrRemove(update, 'deadline', patch.deadline);
    setOrRemove(update, 'message', patch.message);
    setOrRemove(update, 'result', patch.result);
    setOrRemove(update, 'errorCode', patch.errorCode);
    if (patch.archive !== undefined) update.append(['history'], [patch.archive]);
    return update;
  }

  /**
   * Puts `item` under `condition`. Returns undefined when it was written, or the item that made the
   * condition fail (as it was at that moment).
   */
  private async putIfAbsent(
    item: Item,
    condition: string,
    names: Record<string, string>,
    values: Record<string, unknown> | undefined,
  ): Promise<Item | undefined> {
    const key = { pk: String(item[PK]), sk: String(item[SK]) };
    // The blocking item can vanish between the failed put and the read (TTL): then try again.
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ...(values ? { ExpressionAttributeValues: values } : {}),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return undefined;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const existing = error.Item ? unmarshall(error.Item) : await this.getItem(key);
        if (existing !== undefined) return existing;
      }
    }
    throw new ContentionError(`Conditional put of ${key.pk} / ${key.sk}`, 3, ['condition failed on no item']);
  }

  private async conditionalUpdate<R>(
    key: ItemKey,
    update: ExpressionBuilder,
    toRecord: (item: Item) => R,
  ): Promise<Transition<R>> {
    try {
      const output = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyAttributes(key),
          ...update.buildUpdate(),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      if (!output.Attributes) {
        throw new CorruptItemError(key.pk, key.sk, 'an update returned no attributes');
      }
      return { applied: true, record: toRecord(output.Attributes) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // No item in the error means none was stored; confirm with a read in case the endpoint does
      // not honour ReturnValuesOnConditionCheckFailure (rare path: the engine moves items that exist).
      const current = error.Item ? unmarshall(error.Item) : await this.getItem(key);
      return { applied: false, current: current && toRecord(current) };
    }
  }

  /**
   * A narrow stage's outcomes: one conditional update per plugin (no transaction, no read), then one
   * `ADD` of the names that count to the stage's counted set. A crash between the two is repaired by
   * the redelivery: the outcome is then refused as already final, and counted again — a set member
   * added twice is counted once.
   */
  private async recordByName(
    stage: StageKey & { readonly generation: number },
    outcomes: readonly FinalOutcome[],
    refusedBefore: readonly PluginKey[],
    recount: readonly PluginKey[],
  ): Promise<{ applied: PluginKey[]; refused: PluginKey[]; stage?: StageRecord }> {
    const now = this.now();
    const results = await Promise.all(
      outcomes.map(async (outcome) => {
        const update = this.outcomeUpdate(outcome, now);
        return {
          outcome,
          result: await this.conditionalUpdate(pluginItemKey(outcome.key), update, toPluginRecord),
        };
      }),
    );
    const applied: PluginKey[] = [];
    const refused: PluginKey[] = [...refusedBefore];
    const count = new Set(recount.map((k) => k.plugin));
    for (const { outcome, result } of results) {
      if (result.applied) {
        applied.push(outcome.key);
        if (outcome.countDown !== 'none') count.add(outcome.key.plugin);
        continue;
      }
      refused.push(outcome.key);
      // Concluded by another delivery, which may have crashed before counting it: count it again.
      const current = result.current;
      if (current && current.generation === stage.generation && countsDown(current))
        count.add(current.plugin);
    }
    if (count.size > 0) {
      const counter = new ExpressionBuilder();
      counter
        .condition(equals(counter, 'generation', stage.generation))
        .set(['updatedAt'], now)
        .add([COUNTED_NAMES], new Set(count));
      try {
        const output = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyAttributes(stageItemKey(stage)),
            ...counter.buildUpdate(),
            ReturnValues: 'ALL_NEW',
          }),
        );
        // The stage as this count-down left it: the engine needs no read to see whether it is done.
        if (output.Attributes) return { applied, refused, stage: toStageRecord(output.Attributes) };
      } catch (error) {
        // The stage belongs to a newer generation (a rerun): these outcomes count for nothing there.
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    }
    return { applied, refused };
  }

  /** One transaction: up to 99 outcomes and the stage's count-down, retried without the refused. */
  private async countDown(
    stage: StageKey & { readonly generation: number },
    chunk: readonly FinalOutcome[],
    appliedBefore: readonly PluginKey[],
  ): Promise<{ applied: PluginKey[]; refused: PluginKey[] }> {
    let pending = [...chunk];
    const refused: PluginKey[] = [];
    let transientAttempts = 0;
    while (pending.length > 0) {
      const now = this.now();
      const mandatoryDown = pending.filter((o) => o.countDown === 'mandatory').length;
      const optionalDown = pending.filter((o) => o.countDown === 'optional').length;
      const items: NonNullable<TransactWriteCommandInput['TransactItems']> = pending.map((outcome) => ({
        Update: {
          TableName: this.tableName,
          Key: keyAttributes(pluginItemKey(outcome.key)),
          ...this.outcomeUpdate(outcome, now).buildUpdate(),
        },
      }));
      const counter = new ExpressionBuilder();
      counter
        .condition(equals(counter, 'generation', stage.generation))
        .condition(`${counter.path('mandatoryPending')} >= ${counter.value(mandatoryDown)}`)
        .condition(`${counter.path('optionalPending')} >= ${counter.value(optionalDown)}`)
        .set(['updatedAt'], now)
        .add(['mandatoryPending'], -mandatoryDown)
        .add(['optionalPending'], -optionalDown);
      items.push({
        Update: {
          TableName: this.tableName,
          Key: keyAttributes(stageItemKey(stage)),
          ...counter.buildUpdate(),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      });
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return { applied: pending.map((o) => o.key), refused };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        const failed = (index: number): boolean => reasons[index]?.Code === 'ConditionalCheckFailed';
        const stillPending = pending.filter((_, index) => !failed(index));
        if (stillPending.length < pending.length) {
          // Outcomes whose plugin has moved on (duplicates, stale attempts) are refused; the rest
          // are tried again with a count-down that matches them.
          refused.push(...pending.filter((_, index) => failed(index)).map((o) => o.key));
          pending = stillPending;
          continue;
        }
        const stageReason = reasons[pending.length];
        if (stageReason?.Code === 'ConditionalCheckFailed') {
          throw countDownRefused(stage, stageReason, mandatoryDown, optionalDown, appliedBefore);
        }
        const codes = reasons.map((r) => r.Code ?? 'None').filter((code) => code !== 'None');
        const transient = codes.length > 0 && codes.every((code) => TRANSIENT_CANCELLATION_CODES.has(code));
        if (!transient) throw error;
        transientAttempts += 1;
        if (transientAttempts >= TRANSACTION_ATTEMPTS) {
          throw new ContentionError('recordFinalOutcomes', transientAttempts, [...new Set(codes)], {
            cause: error,
          });
        }
        // Full jitter, doubling from 20 ms up to 640 ms.
        await sleep(Math.random() * 20 * 2 ** Math.min(transientAttempts, 5));
      }
    }
    return { applied: [], refused };
  }

  // ---- stages that hold their plugins (ADR 0007) ---------------------------------------------

  /** A stage item, remembered for a later change (only items that hold their plugins are kept). */
  private async readStageItem(key: StageKey): Promise<Item | undefined> {
    const item = await this.getItem(stageItemKey(key));
    if (item) this.remember(item);
    return item;
  }

  private remember(item: Item): void {
    if (item[HELD_PLUGINS_ATTRIBUTE] === undefined) return;
    const id = itemKeyString(item);
    this.remembered.delete(id);
    this.remembered.set(id, item);
    if (this.remembered.size > REMEMBERED_STAGES) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
  }

  /**
   * A versioned change of a stage that holds its plugins: `decide` sees the stage as stored (from
   * memory, or read) and returns what it becomes; the difference is written conditional on the
   * version it saw. When another writer came first, the write is refused with the item as it is now
   * and `decide` runs again on that. `decide` returning no `next` writes nothing.
   */
  private async changeHeld<D>(
    key: StageKey,
    decide: (held: HeldStage | undefined) => { readonly next?: HeldStage; readonly decision: D },
  ): Promise<{ readonly decision: D; readonly view: StageView | undefined }> {
    const id = itemKeyString(keyAttributes(stageItemKey(key)));
    let item = this.remembered.get(id);
    let fromMemory = item !== undefined;
    item ??= await this.readStageItem(key);
    for (let attempt = 1; attempt <= HELD_WRITE_ATTEMPTS; attempt += 1) {
      const view = item && item[HELD_PLUGINS_ATTRIBUTE] !== undefined ? toStageView(item) : undefined;
      const held = view?.plugins ? { stage: view.stage, plugins: view.plugins } : undefined;
      const { next, decision } = decide(held);
      const update = item && next ? heldUpdate(item, next) : undefined;
      if (!item || !update) {
        // Nothing to write, but a remembered item may be stale: decide again on a fresh read once.
        if (fromMemory && item !== undefined && !next) {
          fromMemory = false;
          const fresh = await this.readStageItem(key);
          if (fresh && !sameVersion(fresh, item)) {
            item = fresh;
            continue;
          }
        }
        return { decision, view };
      }
      try {
        const output = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keyAttributes(stageItemKey(key)),
            ...update.buildUpdate(),
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        if (!output.Attributes) {
          throw new CorruptItemError(String(item[PK]), String(item[SK]), 'an update returned no attributes');
        }
        this.remember(output.Attributes);
        return { decision, view: toStageView(output.Attributes) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        this.remembered.delete(id);
        fromMemory = false;
        item = error.Item ? unmarshall(error.Item) : await this.readStageItem(key);
      }
    }
    throw new ContentionError(
      `Change of stage ${key.activity}/${key.stage} of run "${key.uid}"`,
      HELD_WRITE_ATTEMPTS,
      ['the stage changed under every attempt'],
    );
  }

  /** The transition result of a change of a held stage: the record written, or the current one. */
  private heldTransition<R>(
    key: StageKey,
    applied: boolean,
    pick: (view: StageView) => R | undefined,
  ): Transition<R> {
    const id = itemKeyString(keyAttributes(stageItemKey(key)));
    const item = this.remembered.get(id);
    const view = item ? toStageView(item) : undefined;
    const record = view && pick(view);
    if (applied && record !== undefined) return { applied: true, record };
    return { applied: false, current: record };
  }

  /**
   * Final outcomes of a stage that holds its plugins: one conditional write applies them all, counts
   * the stage down and moves it on (`Mandatory Completed`, `Complete`). No transaction, and no read
   * when the stage was read just before (the remembered item).
   */
  private async recordHeld(
    stage: StageKey & { readonly generation: number },
    outcomes: readonly FinalOutcome[],
  ): Promise<{
    applied: PluginKey[];
    refused: PluginKey[];
    stage?: StageRecord;
    plugins?: readonly PluginRecord[];
    completed: boolean;
  }> {
    const now = this.now();
    const { decision, view } = await this.changeHeld(stage, (held) => {
      if (!held || held.stage.generation !== stage.generation) {
        return { decision: { applied: [] as FinalOutcome[], refused: [...outcomes], completed: false } };
      }
      const result = applyOutcomes(held, outcomes, now);
      return {
        ...(result.next ? { next: result.next } : {}),
        decision: { applied: result.applied, refused: result.refused, completed: result.completed },
      };
    });
    return {
      applied: decision.applied.map((o) => o.key),
      refused: decision.refused.map((o) => o.key),
      ...(view ? { stage: view.stage, plugins: view.plugins ?? [] } : {}),
      completed: decision.completed,
    };
  }

  /** `claimTimeout` on a plugin its stage holds: one conditional write on its entry, no version. */
  private async claimHeldTimeout(
    key: PluginKey,
    expected: { readonly generation: number; readonly attempt: number },
    now: string,
    resendAfter: string,
  ): Promise<boolean> {
    try {
      const output = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keyAttributes(stageItemKey(key)),
          UpdateExpression: 'SET #held.#plugin.#sent = :now',
          ConditionExpression:
            '#held.#plugin.#state = :inProgress AND #generation = :generation AND #held.#plugin.#attempt = :attempt AND (attribute_not_exists(#held.#plugin.#sent) OR #held.#plugin.#sent < :resendAfter)',
          ExpressionAttributeNames: {
            '#held': HELD_PLUGINS_ATTRIBUTE,
            '#plugin': key.plugin,
            '#sent': 'tos',
            '#state': 's',
            '#attempt': 'a',
            '#generation': 'generation',
          },
          ExpressionAttributeValues: {
            ':now': Date.parse(now),
            ':inProgress': HELD_STATE_CODES[STATES.inProgress],
            ':generation': expected.generation,
            ':attempt': expected.attempt,
            ':resendAfter': Date.parse(resendAfter),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (output.Attributes) this.remember(output.Attributes);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async getItem(key: ItemKey): Promise<Item | undefined> {
    const output = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keyAttributes(key), ConsistentRead: true }),
    );
    return output.Item;
  }

  /** Every item of a query on the table, following LastEvaluatedKey; strongly consistent. */
  private async queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey' | 'ConsistentRead'>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.client.send(
        new QueryCommand({
          ...input,
          TableName: this.tableName,
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      items.push(...(output.Items ?? []));
      startKey = output.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  private async listIndex(
    listing: string,
    index: { readonly name: string; readonly partitionKey: string; readonly sortKey: string },
    workflow: string,
    options: { readonly limit?: number; readonly nextToken?: string },
  ): Promise<ActiveRunPage> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new InvalidStoreRequestError(
        `${listing}: limit must be an integer from 1 to ${MAX_PAGE_SIZE} (got ${limit}).`,
      );
    }
    const startKey =
      options.nextToken === undefined
        ? undefined
        : decodePageToken(listing, workflow, options.nextToken, index);
    const output = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: '#workflow = :workflow',
        ExpressionAttributeNames: { '#workflow': index.partitionKey },
        ExpressionAttributeValues: { ':workflow': workflow },
        ScanIndexForward: false,
        Limit: limit,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    // The indexes project keys only (TABLE_LAYOUT): read the run items themselves, in index order. A
    // run that left the index in between (finished, or expired) is not listed.
    const keys = (output.Items ?? []).map((entry) => ({ [PK]: entry[PK], [SK]: entry[SK] }));
    const items = await this.batchGet(listing, keys);
    const runs = keys.flatMap((key) => {
      const item = items.get(itemKeyString(key));
      return item !== undefined && item[index.partitionKey] === workflow ? [toRunRecord(item)] : [];
    });
    return output.LastEvaluatedKey ? { runs, nextToken: encodePageToken(output.LastEvaluatedKey) } : { runs };
  }

  /** Strongly consistent reads of items by key, 100 per request, retrying unprocessed keys. */
  private async batchGet(operation: string, keys: readonly Item[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    for (let from = 0; from < keys.length; from += MAX_BATCH_GET_KEYS) {
      let pending: Item[] = keys.slice(from, from + MAX_BATCH_GET_KEYS);
      for (let attempt = 1; pending.length > 0; attempt += 1) {
        if (attempt > BATCH_GET_ATTEMPTS) {
          throw new ContentionError(operation, BATCH_GET_ATTEMPTS, ['UnprocessedKeys']);
        }
        if (attempt > 1) await sleep(Math.random() * 20 * 2 ** Math.min(attempt, 5));
        const output = await this.client.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of output.Responses?.[this.tableName] ?? []) found.set(itemKeyString(item), item);
        pending = output.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }
}

function sameVersion(a: Item, b: Item): boolean {
  return a[HELD_VERSION] === b[HELD_VERSION] && a.generation === b.generation;
}

/** One record per plugin: the newest generation wins (a stage's held entry, or its own item). */
function newestPerPlugin(plugins: readonly PluginRecord[]): PluginRecord[] {
  const newest = new Map<string, PluginRecord>();
  for (const plugin of plugins) {
    const id = `${plugin.activity}#${plugin.stage}#${plugin.plugin}`;
    const kept = newest.get(id);
    if (
      !kept ||
      plugin.generation > kept.generation ||
      (plugin.generation === kept.generation && plugin.inStage)
    ) {
      newest.set(id, plugin);
    }
  }
  const id = (p: PluginRecord) => `PLUGIN#${p.activity}#${p.stage}#${p.plugin}`;
  return [...newest.values()].sort((a, b) => (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
}

function itemKeyString(item: Item): string {
  return JSON.stringify([item[PK], item[SK]]);
}

// ---- helpers -------------------------------------------------------------------------------

function equals(update: ExpressionBuilder, attribute: string, value: unknown): string {
  return `${update.path(attribute)} = ${update.value(value)}`;
}

/** Sets `state`, its entry in `stateTimes` (a nested map update) and nothing else. */
function setState(update: ExpressionBuilder, state: string, now: string): void {
  update.set(['state'], state).set(['stateTimes', state], now);
}

/** `undefined` leaves the attribute alone; `null` removes it; anything else sets it. */
function setOrRemove(update: ExpressionBuilder, attribute: string, value: unknown): void {
  if (value === undefined) return;
  if (value === null) update.remove([attribute]);
  else update.set([attribute], value);
}

function checkResultSize(plugin: string, result: unknown): void {
  if (result === undefined || result === null) return;
  const bytes = byteLength(result);
  if (bytes > LIMITS.resultBytes) throw new ResultTooLargeError(plugin, bytes, LIMITS.resultBytes);
}

function countDownRefused(
  stage: StageKey & { readonly generation: number },
  reason: CancellationReason,
  mandatoryDown: number,
  optionalDown: number,
  appliedBefore: readonly PluginKey[],
): CountDownRefusedError {
  const current = reason.Item ? unmarshall(reason.Item) : undefined;
  const why = !current ? 'missing' : current.generation !== stage.generation ? 'generation' : 'underflow';
  return new CountDownRefusedError(
    { workflow: stage.workflow, uid: stage.uid, activity: stage.activity, stage: stage.stage },
    why,
    {
      expectedGeneration: stage.generation,
      mandatoryDown,
      optionalDown,
      ...(current
        ? {
            current: {
              generation: current.generation,
              mandatoryPending: current.mandatoryPending,
              optionalPending: current.optionalPending,
            },
          }
        : {}),
      appliedBefore: appliedBefore.map((key) => key.plugin),
    },
  );
}

function encodePageToken(lastEvaluatedKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(lastEvaluatedKey), 'utf8').toString('base64url');
}

/** Decodes a page token and checks it is a key of this index, for this workflow. */
function decodePageToken(
  listing: string,
  workflow: string,
  token: string,
  index: { readonly partitionKey: string; readonly sortKey: string },
): Record<string, string> {
  const fail = (problem: string): never => {
    throw new InvalidPageTokenError(listing, workflow, problem);
  };
  if (!/^[A-Za-z0-9_-]+$/.test(token)) fail('it is not base64url');
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (error) {
    throw new InvalidPageTokenError(listing, workflow, 'it does not decode to JSON', { cause: error });
  }
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
    return fail('it does not decode to a key');
  }
  const expected = [PK, SK, index.partitionKey, index.sortKey].sort();
  const entries = Object.entries(decoded);
  const names = entries.map(([name]) => name).sort();
  if (names.join(',') !== expected.join(',')) return fail(`it names ${names.join(', ') || 'no attributes'}`);
  const key: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (typeof value !== 'string') return fail(`"${name}" is not a string`);
    key[name] = value;
  }
  if (key[index.partitionKey] !== workflow) return fail('it belongs to another workflow');
  return key;
}

/** Runs `work` over `items` with at most `limit` calls in flight. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  // The workers share one iterator, so every item is taken exactly once.
  const queue = items.values();
  const worker = async (): Promise<void> => {
    for (const item of queue) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
