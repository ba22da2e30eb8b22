/**
 * How the engine's records map onto status table items (layout: plugin-kit's TABLE_LAYOUT). An item
 * is the record's own fields plus the keys, the sparse index attributes and `expiresAt`; reading
 * strips those again and checks the record's shape, naming the item when it is corrupt.
 */
import {
  decodeHeldPlugin,
  encodeHeldPlugin,
  HELD_PLUGINS_ATTRIBUTE,
  isFinalRunState,
  PLUGIN_STATES,
  pluginSk,
  RUN_SK,
  RUN_STATES,
  type RunState,
  runPk,
  STAGE_NAMES,
  STAGE_STATES,
  stageSk,
  TABLE_LAYOUT,
} from '../contracts/index.js';
import {
  countsDown,
  type PluginKey,
  type PluginRecord,
  pendingByName,
  pendingOfPlugins,
  type RunKey,
  type RunRecord,
  type StageKey,
  type StageRecord,
  type StageView,
} from '../engine/records.js';
import { CorruptItemError } from './errors.js';

export type Item = Record<string, unknown>;

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

const PK = TABLE_LAYOUT.partitionKey;
const SK = TABLE_LAYOUT.sortKey;
const ACTIVE = TABLE_LAYOUT.activeIndex;
const RUNS = TABLE_LAYOUT.runsIndex;

/** Attributes that exist only for the table (keys, index keys, TTL); never part of a record. */
export const INTERNAL_ATTRIBUTES: readonly string[] = [
  PK,
  SK,
  ACTIVE.partitionKey,
  ACTIVE.sortKey,
  RUNS.partitionKey,
  RUNS.sortKey,
  TABLE_LAYOUT.ttlAttribute,
];

export const runItemKey = (key: RunKey): ItemKey => ({ pk: runPk(key.workflow, key.uid), sk: RUN_SK });
export const stageItemKey = (key: StageKey): ItemKey => ({
  pk: runPk(key.workflow, key.uid),
  sk: stageSk(key.activity, key.stage),
});
export const pluginItemKey = (key: PluginKey): ItemKey => ({
  pk: runPk(key.workflow, key.uid),
  sk: pluginSk(key.activity, key.stage, key.plugin),
});

/** The key attributes as DynamoDB wants them (`{ pk, sk }` named by the layout). */
export function keyAttributes(key: ItemKey): Item {
  return { [PK]: key.pk, [SK]: key.sk };
}

/** The sort value of both run indexes: creation time, then uid to break ties. */
export const runSortValue = (run: Pick<RunRecord, 'createdAt' | 'uid'>): string =>
  `${run.createdAt}#${run.uid}`;

/** The index attributes that make a run visible in the sparse `active` index. */
export function activeIndexAttributes(run: Pick<RunRecord, 'workflow' | 'createdAt' | 'uid'>): Item {
  return { [ACTIVE.partitionKey]: run.workflow, [ACTIVE.sortKey]: runSortValue(run) };
}

export function runItem(run: RunRecord, expiresAt: number): Item {
  const { marked, ...rest } = run;
  return {
    ...rest,
    ...(marked !== undefined && marked.length > 0 ? { marked: new Set(marked) } : {}),
    ...keyAttributes(runItemKey(run)),
    [RUNS.partitionKey]: run.workflow,
    [RUNS.sortKey]: runSortValue(run),
    ...(isActiveRunState(run.state) ? activeIndexAttributes(run) : {}),
    [TABLE_LAYOUT.ttlAttribute]: expiresAt,
  };
}

/**
 * Attribute of a stage that counts down by name: the names counted so far, a string set (`ADD` is
 * idempotent). The awaited names are in `countdown` ({ mandatory, optional } lists).
 */
export const COUNTED_NAMES = 'countedNames';

/** Version of a stage item that holds its plugins: every change of it is conditional on it. */
export const HELD_VERSION = 'v';

export function stageItem(stage: StageRecord, expiresAt: number, plugins?: readonly PluginRecord[]): Item {
  const { countdown, ...rest } = stage;
  if (stage.holdsPlugins) {
    // Counts and count-down follow from the plugins' states: they are not stored.
    const { mandatoryPending: _m, optionalPending: _o, ...held } = rest;
    return {
      ...held,
      [HELD_PLUGINS_ATTRIBUTE]: Object.fromEntries((plugins ?? []).map((p) => [p.plugin, heldEntry(p)])),
      [HELD_VERSION]: 0,
      ...keyAttributes(stageItemKey(stage)),
      [TABLE_LAYOUT.ttlAttribute]: expiresAt,
    };
  }
  return {
    ...rest,
    ...(countdown
      ? {
          countdown: { mandatory: [...countdown.mandatory], optional: [...countdown.optional] },
          ...(countdown.counted.length > 0 ? { [COUNTED_NAMES]: new Set(countdown.counted) } : {}),
        }
      : {}),
    ...keyAttributes(stageItemKey(stage)),
    [TABLE_LAYOUT.ttlAttribute]: expiresAt,
  };
}

/** A plugin's entry in the stage item that holds it (plugin-kit's held-plugins.ts). */
export function heldEntry(plugin: PluginRecord): Item {
  return { ...encodeHeldPlugin(plugin) };
}

export function pluginItem(plugin: PluginRecord, expiresAt: number): Item {
  return { ...plugin, ...keyAttributes(pluginItemKey(plugin)), [TABLE_LAYOUT.ttlAttribute]: expiresAt };
}

export function isActiveRunState(state: RunState): boolean {
  return !isFinalRunState(state);
}

export type ItemKind = 'run' | 'stage' | 'plugin';

/** What a run partition's item is, by its sort key. */
export function itemKind(sk: string): ItemKind | undefined {
  if (sk === RUN_SK) return 'run';
  if (sk.startsWith('STAGE#')) return 'stage';
  if (sk.startsWith('PLUGIN#')) return 'plugin';
  return undefined;
}

export function toRunRecord(item: Item): RunRecord {
  const check = new ItemCheck(item);
  check.strings('workflow', 'uid', 'createdAt', 'updatedAt');
  check.oneOf('state', RUN_STATES);
  check.integers('generation');
  check.arrays('activities');
  check.maps('metadata', 'stateTimes');
  const { marked, ...rest } = check.record<RunRecord & { marked?: unknown }>();
  if (marked === undefined) return rest;
  if (!(marked instanceof Set) || ![...marked].every((m) => typeof m === 'string')) {
    throw new CorruptItemError(String(item[PK]), String(item[SK]), 'marked: expected a string set');
  }
  return { ...rest, marked: [...(marked as Set<string>)].sort() };
}

/** A stage item as the engine sees it: the stage and, when it holds them, its plugins' records. */
export function toStageView(item: Item): StageView {
  if (item[HELD_PLUGINS_ATTRIBUTE] === undefined) return { stage: toStageRecord(item) };
  const check = new ItemCheck(item);
  check.strings('workflow', 'uid', 'activity', 'createdAt', 'updatedAt');
  check.oneOf('stage', STAGE_NAMES);
  check.oneOf('state', STAGE_STATES);
  check.oneOf('mode', ['sequential', 'parallel']);
  check.integers('generation');
  check.maps('stateTimes', HELD_PLUGINS_ATTRIBUTE);
  const record = check.record<StageRecord & Record<string, unknown>>();
  const { [HELD_PLUGINS_ATTRIBUTE]: held, [HELD_VERSION]: _version, ...rest } = record;
  const plugins: PluginRecord[] = [];
  for (const [name, entry] of Object.entries(held as Record<string, unknown>)) {
    const fields = decodeHeldPlugin(entry, rest.createdAt);
    if (typeof fields === 'string') {
      throw new CorruptItemError(String(item[PK]), String(item[SK]), `plugin "${name}": ${fields}`);
    }
    plugins.push({
      workflow: rest.workflow,
      uid: rest.uid,
      activity: rest.activity,
      stage: rest.stage,
      plugin: name,
      generation: rest.generation,
      ...fields,
      inStage: true,
    });
  }
  plugins.sort((a, b) => (a.plugin < b.plugin ? -1 : a.plugin > b.plugin ? 1 : 0));
  const stage: StageRecord = {
    ...rest,
    holdsPlugins: true,
    countdown: {
      mandatory: plugins.filter((p) => p.mandatory).map((p) => p.plugin),
      optional: plugins.filter((p) => !p.mandatory).map((p) => p.plugin),
      counted: plugins.filter(countsDown).map((p) => p.plugin),
    },
    ...pendingOfPlugins(plugins),
  };
  return { stage, plugins };
}

/** The version of a stage item that holds its plugins (0 for one written before versions). */
export function heldVersion(item: Item): number {
  const value = item[HELD_VERSION];
  return typeof value === 'number' ? value : 0;
}

export function toStageRecord(item: Item): StageRecord {
  if (item[HELD_PLUGINS_ATTRIBUTE] !== undefined) return toStageView(item).stage;
  const check = new ItemCheck(item);
  check.strings('workflow', 'uid', 'activity', 'createdAt', 'updatedAt');
  check.oneOf('stage', STAGE_NAMES);
  check.oneOf('state', STAGE_STATES);
  check.oneOf('mode', ['sequential', 'parallel']);
  check.integers('generation', 'mandatoryPending', 'optionalPending');
  check.maps('stateTimes');
  const record = check.record<StageRecord & { [COUNTED_NAMES]?: unknown }>();
  const { [COUNTED_NAMES]: countedNames, countdown: stored, ...rest } = record;
  if (stored === undefined) return rest;
  const names = (value: unknown, what: string): string[] => {
    if (!Array.isArray(value) || !value.every((n) => typeof n === 'string')) {
      throw new CorruptItemError(
        String(item[PK]),
        String(item[SK]),
        `"${what}" must be a list of plugin names`,
      );
    }
    return value;
  };
  const counted = countedNames instanceof Set ? [...countedNames].map(String).sort() : [];
  const countdown = {
    mandatory: names((stored as { mandatory?: unknown }).mandatory, 'countdown.mandatory'),
    optional: names((stored as { optional?: unknown }).optional, 'countdown.optional'),
    counted,
  };
  // The pending counts of a stage that counts down by name follow from the names, not the counters.
  return { ...rest, countdown, ...pendingByName(countdown) };
}

export function toPluginRecord(item: Item): PluginRecord {
  const check = new ItemCheck(item);
  check.strings('workflow', 'uid', 'activity', 'plugin', 'updatedAt');
  check.oneOf('stage', STAGE_NAMES);
  check.oneOf('state', PLUGIN_STATES);
  check.integers('generation', 'attempt', 'maxAttempts', 'order', 'deadlineSeconds');
  check.booleans('mandatory');
  check.maps('stateTimes');
  return check.record<PluginRecord>();
}

/** Minimal shape checks on a stored item: enough to catch a corrupt or foreign item, naming it. */
class ItemCheck {
  private readonly pk: string;
  private readonly sk: string;

  constructor(private readonly item: Item) {
    this.pk = typeof item[PK] === 'string' ? item[PK] : '(missing)';
    this.sk = typeof item[SK] === 'string' ? item[SK] : '(missing)';
  }

  strings(...names: readonly string[]): void {
    for (const name of names) this.expect(name, typeof this.item[name] === 'string', 'a string');
  }

  integers(...names: readonly string[]): void {
    for (const name of names) this.expect(name, Number.isInteger(this.item[name]), 'an integer');
  }

  booleans(...names: readonly string[]): void {
    for (const name of names) this.expect(name, typeof this.item[name] === 'boolean', 'a boolean');
  }

  arrays(...names: readonly string[]): void {
    for (const name of names) this.expect(name, Array.isArray(this.item[name]), 'a list');
  }

  maps(...names: readonly string[]): void {
    for (const name of names) {
      const value = this.item[name];
      this.expect(name, typeof value === 'object' && value !== null && !Array.isArray(value), 'a map');
    }
  }

  oneOf(name: string, allowed: readonly string[]): void {
    const value = this.item[name];
    this.expect(
      name,
      typeof value === 'string' && allowed.includes(value),
      `one of ${allowed.map((a) => `"${a}"`).join(', ')}`,
    );
  }

  /** The record without the table's own attributes; call after the checks. */
  record<R>(): R {
    const record: Item = { ...this.item };
    for (const name of INTERNAL_ATTRIBUTES) delete record[name];
    return record as R;
  }

  private expect(name: string, ok: boolean, what: string): void {
    if (ok) return;
    const actual = this.item[name];
    const shown = actual === undefined ? 'missing' : JSON.stringify(actual)?.slice(0, 60);
    throw new CorruptItemError(this.pk, this.sk, `"${name}" must be ${what}, but is ${shown}`);
  }
}
