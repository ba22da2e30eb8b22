/**
 * Changes of a stage item that holds its plugins (ADR 0007), as pure functions: what a transition or a
 * batch of outcomes makes of the stage and its plugins, and the one `UpdateItem` that writes exactly
 * the difference, conditional on the item's version. The adapter reads (or remembers) the item,
 * decides with these functions and writes; a refused version hands back the item as it is, and the
 * adapter decides again on that.
 */
import { HELD_PLUGINS_ATTRIBUTE, type PluginState, TABLE_LAYOUT } from '../contracts/index.js';
import type { FinalOutcome, PluginPatch, StagePatch } from '../engine/ports.js';
import { derivedStageState, type PluginRecord, type StageRecord } from '../engine/records.js';
import { ExpressionBuilder } from './ddb-expression.js';
import { HELD_VERSION, heldVersion, type Item, stageItem } from './status-items.js';

/** A stage that holds its plugins, as decided in memory before it is written. */
export interface HeldStage {
  readonly stage: StageRecord;
  readonly plugins: readonly PluginRecord[];
}

/** The item's own attributes that a change never writes (keys, version, TTL). */
const FIXED = new Set([
  TABLE_LAYOUT.partitionKey,
  TABLE_LAYOUT.sortKey,
  HELD_VERSION,
  TABLE_LAYOUT.ttlAttribute,
]);

/**
 * The `UpdateItem` expressions that turn `before` (the stored item) into `next`: only the attributes
 * and plugin entry fields that differ, the version +1, conditional on the version read. Undefined when
 * nothing differs.
 */
export function heldUpdate(before: Item, next: HeldStage): ExpressionBuilder | undefined {
  const expiresAt = Number(before[TABLE_LAYOUT.ttlAttribute] ?? 0);
  const after = stageItem(next.stage, expiresAt, next.plugins);
  const update = new ExpressionBuilder();
  let changed = false;
  for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (FIXED.has(name) || name === HELD_PLUGINS_ATTRIBUTE) continue;
    if (sameValue(before[name], after[name])) continue;
    changed = true;
    if (after[name] === undefined) update.remove([name]);
    else update.set([name], after[name]);
  }
  const oldEntries = asMap(before[HELD_PLUGINS_ATTRIBUTE]);
  const newEntries = asMap(after[HELD_PLUGINS_ATTRIBUTE]);
  for (const plugin of new Set([...Object.keys(oldEntries), ...Object.keys(newEntries)])) {
    const oldEntry = oldEntries[plugin];
    const newEntry = newEntries[plugin];
    if (sameValue(oldEntry, newEntry)) continue;
    changed = true;
    if (newEntry === undefined) {
      update.remove([HELD_PLUGINS_ATTRIBUTE, plugin]);
      continue;
    }
    if (oldEntry === undefined || typeof oldEntry !== 'object' || oldEntry === null) {
      update.set([HELD_PLUGINS_ATTRIBUTE, plugin], newEntry);
      continue;
    }
    const oldFields = oldEntry as Item;
    const newFields = newEntry as Item;
    for (const field of new Set([...Object.keys(oldFields), ...Object.keys(newFields)])) {
      if (sameValue(oldFields[field], newFields[field])) continue;
      if (newFields[field] === undefined) update.remove([HELD_PLUGINS_ATTRIBUTE, plugin, field]);
      else update.set([HELD_PLUGINS_ATTRIBUTE, plugin, field], newFields[field]);
    }
  }
  if (!changed) return undefined;
  const version = heldVersion(before);
  update
    .condition(
      before[HELD_VERSION] === undefined
        ? `attribute_not_exists(${update.path(HELD_VERSION)})`
        : `${update.path(HELD_VERSION)} = ${update.value(version)}`,
    )
    .set([HELD_VERSION], version + 1);
  return update;
}

/** A plugin record after a patch, as a conditional update of its own item would leave it. */
export function patchedPlugin(plugin: PluginRecord, patch: PluginPatch, now: string): PluginRecord {
  const next: Record<string, unknown> = { ...plugin, updatedAt: now };
  if (patch.state !== undefined) {
    next.state = patch.state;
    next.stateTimes = { ...plugin.stateTimes, [patch.state]: now };
  }
  if (patch.attempt !== undefined) next.attempt = patch.attempt;
  if (patch.mandatory !== undefined) next.mandatory = patch.mandatory;
  for (const field of ['deadline', 'message', 'result', 'errorCode'] as const) {
    const value = patch[field];
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  if (patch.archive !== undefined) next.history = [...(plugin.history ?? []), patch.archive];
  return next as unknown as PluginRecord;
}

/** A stage record after a patch. */
export function patchedStage(stage: StageRecord, patch: StagePatch, now: string): StageRecord {
  const next: Record<string, unknown> = { ...stage, updatedAt: now };
  if (patch.state !== undefined) {
    next.state = patch.state;
    next.stateTimes = { ...stage.stateTimes, [patch.state]: now };
  }
  for (const field of ['message', 'failedPlugin'] as const) {
    const value = patch[field];
    if (value === null) delete next[field];
    else if (value !== undefined) next[field] = value;
  }
  return next as unknown as StageRecord;
}

/** Whether a plugin is in one of `from`, at `generation` and (when given) at `attempt`. */
export function pluginHolds(
  plugin: PluginRecord | undefined,
  from: readonly PluginState[],
  generation: number,
  attempt: number | undefined,
): plugin is PluginRecord {
  return (
    plugin !== undefined &&
    from.includes(plugin.state) &&
    plugin.generation === generation &&
    (attempt === undefined || plugin.attempt === attempt)
  );
}

/**
 * A batch of final outcomes applied to a stage that holds its plugins: each outcome whose condition
 * holds (the first of a plugin named twice), then the stage's own move to `Mandatory Completed` or
 * `Complete` when its plugins say so. `completed` is true when this change completes the stage.
 */
export function applyOutcomes(
  held: HeldStage,
  outcomes: readonly FinalOutcome[],
  now: string,
): {
  readonly next?: HeldStage;
  readonly applied: FinalOutcome[];
  readonly refused: FinalOutcome[];
  readonly completed: boolean;
} {
  const byName = new Map(held.plugins.map((p) => [p.plugin, p] as const));
  const applied: FinalOutcome[] = [];
  const refused: FinalOutcome[] = [];
  const seen = new Set<string>();
  for (const outcome of outcomes) {
    const name = outcome.key.plugin;
    const current = byName.get(name);
    if (!seen.has(name) && pluginHolds(current, outcome.from, outcome.generation, outcome.attempt)) {
      byName.set(name, patchedPlugin(current, outcome.patch, now));
      applied.push(outcome);
    } else {
      refused.push(outcome);
    }
    seen.add(name);
  }
  if (applied.length === 0) return { applied, refused, completed: false };
  const plugins = held.plugins.map((p) => byName.get(p.plugin) ?? p);
  const state = derivedStageState(held.stage, plugins);
  const stage =
    state === held.stage.state ? { ...held.stage, updatedAt: now } : patchedStage(held.stage, { state }, now);
  return {
    next: { stage, plugins },
    applied,
    refused,
    completed: state === 'Complete' && held.stage.state !== 'Complete',
  };
}

function asMap(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Deep equality of DynamoDB document values (maps compared regardless of key order). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    return [...a].every((member) => b.has(member));
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((value, index) => sameValue(value, b[index]));
  }
  const keysA = Object.keys(a as Item).filter((k) => (a as Item)[k] !== undefined);
  const keysB = Object.keys(b as Item).filter((k) => (b as Item)[k] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) => sameValue((a as Item)[key], (b as Item)[key]));
}
