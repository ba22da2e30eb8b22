/**
 * Reading a `PluginInfo` the way a plugin author writes it: the canonical shape, or the predecessor's
 * (`pluginName`, `default.pluginRegisterTimeout`), which is accepted with a one-line deprecation
 * warning. Problems name the field, the value and the fix; an unknown key gets a "did you mean" hint.
 * The wrappers, the CDK constructs and `definePluginInfo` all read a `PluginInfo` through here.
 */
import type { z } from 'zod';
import { PLUGIN_NAME, type PluginInfo, type PluginInfoInput, pluginInfoSchema } from '../contracts/index.js';
import { InvalidPluginInfoError } from './errors.js';

/** `default` as the predecessor wrote it: `pluginRegisterTimeout` is accepted and ignored. */
export interface PredecessorPluginDefaults {
  readonly mandatory: boolean;
  /**
   * @deprecated Ignored: Plugboard registers a plugin at deploy time, before any run, so there is no
   * registration window to wait for. Remove it; bound the plugin's run time with `deadlineSeconds`.
   */
  readonly pluginRegisterTimeout?: number;
}

/** A `PluginInfo` in the predecessor's shape (`@moe-tech/orchestrator`): accepted with a warning. */
export type PredecessorPluginInfo = Omit<PluginInfoInput, 'name' | 'default'> & {
  /** @deprecated Plugboard calls it `name`: rename the key (same rules). */
  readonly pluginName: string;
  readonly name?: undefined;
  readonly default: PredecessorPluginDefaults;
};

/** Every `PluginInfo` the kit accepts: the canonical input, or the predecessor's (deprecated) shape. */
export type AnyPluginInfoInput =
  | PluginInfoInput
  | (Omit<PluginInfoInput, 'default'> & { readonly default: PredecessorPluginDefaults })
  | PredecessorPluginInfo;

/** The outcome of reading a `PluginInfo`: the parsed value, or every problem; warnings either way. */
export type PluginInfoReading =
  | { readonly ok: true; readonly info: PluginInfo; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[]; readonly warnings: readonly string[] };

const TOP_LEVEL_KEYS = Object.keys(pluginInfoSchema.shape);
const NESTED_KEYS = ['mandatory'];

/** Why a predecessor key no longer exists, and what to do instead. */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  orchestratorId: 'is not needed: the registration names the activity and stage',
  functionName: 'is not needed: the registration carries the function ARN',
  subscriptionArn: 'is not needed: the registration is a CloudFormation resource, not a subscription',
};

/**
 * Reads a `PluginInfo` without throwing: maps the predecessor's keys (with warnings), then validates.
 * Problems are `field ("value"): what is wrong; the fix`.
 */
export function readPluginInfo(input: unknown): PluginInfoReading {
  const warnings: string[] = [];
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return {
      ok: false,
      problems: [
        `PluginInfo must be an object such as { name: 'check-credit', default: { mandatory: true } }, got ${describe(input)}`,
      ],
      warnings,
    };
  }
  const candidate: Record<string, unknown> = { ...input };
  if ('pluginName' in candidate) {
    if (candidate.name !== undefined) {
      problems.push(
        `pluginName (${describe(candidate.pluginName)}) and name (${describe(candidate.name)}): set only name (pluginName is its deprecated alias)`,
      );
    } else {
      warnings.push(
        `PluginInfo.pluginName is deprecated: rename it to name (${describe(candidate.pluginName)})`,
      );
      candidate.name = candidate.pluginName;
    }
    delete candidate.pluginName;
  }
  const defaults = candidate.default;
  if (typeof defaults === 'object' && defaults !== null && 'pluginRegisterTimeout' in defaults) {
    warnings.push(
      'PluginInfo.default.pluginRegisterTimeout is ignored: Plugboard registers plugins at deploy time, so there is no registration window; remove it (bound run time with deadlineSeconds)',
    );
    const { pluginRegisterTimeout: _ignored, ...rest } = defaults as Record<string, unknown>;
    candidate.default = rest;
  }
  const parsed = pluginInfoSchema.safeParse(candidate);
  if (!parsed.success)
    problems.push(...parsed.error.issues.flatMap((issue) => describeIssue(issue, candidate)));
  if (problems.length > 0 || !parsed.success) return { ok: false, problems, warnings };
  return { ok: true, info: parsed.data, warnings };
}

/**
 * Parses a `PluginInfo`, throwing one `InvalidPluginInfoError` that lists every problem. `warn` gets
 * each deprecation warning (one line each).
 */
export function parsePluginInfo(input: unknown, warn: (warning: string) => void = () => {}): PluginInfo {
  const reading = readPluginInfo(input);
  for (const warning of reading.warnings) warn(warning);
  if (!reading.ok) throw new InvalidPluginInfoError(reading.problems);
  return reading.info;
}

/**
 * Checks a `PluginInfo` where it is written, so a bad one fails at the line that defines it (for
 * example a name with spaces) rather than when a wrapper or construct first uses it. Returns the
 * parsed `PluginInfo` (defaults filled in), which every wrapper and construct accepts. Deprecation
 * warnings go to `process.emitWarning`.
 *
 * @example
 * ```ts
 * export const info = definePluginInfo({ name: 'check-credit', default: { mandatory: true } });
 * export const handler = orchestratorWrapperSns(info, checkCredit);
 * ```
 */
export function definePluginInfo(info: AnyPluginInfoInput): PluginInfo {
  return parsePluginInfo(info, (warning) =>
    process.emitWarning(warning, { type: 'DeprecationWarning', code: 'PLUGBOARD_PLUGIN_INFO' }),
  );
}

function describeIssue(issue: z.core.$ZodIssue, candidate: Record<string, unknown>): string[] {
  const path = issue.path.map(String);
  const where = path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = path.length === 0 ? TOP_LEVEL_KEYS : NESTED_KEYS;
    return issue.keys.map((key) => {
      const field = [...path, key].join('.');
      const removed = path.length === 0 ? REMOVED_KEYS[key] : undefined;
      if (removed !== undefined) return `${field}: ${removed}; remove it`;
      const guess = closest(key, known);
      const hint = guess === undefined ? '' : `did you mean "${guess}"? `;
      return `${field}: unknown key; ${hint}the keys of ${path.length === 0 ? 'PluginInfo' : where} are ${known.join(', ')}`;
    });
  }
  if (where === 'name' && typeof candidate.name === 'string') {
    const name = candidate.name;
    if (!PLUGIN_NAME.test(name)) {
      const slug = suggestedName(name);
      const fix = slug === undefined ? '' : ` (e.g. "${slug}")`;
      const spaces = /\s/.test(name) ? 'must not contain spaces; ' : '';
      return [
        `name (${JSON.stringify(name)}): ${spaces}plugin names are 1-64 letters, digits, "_", "." or "-", starting with a letter or digit, because SNS filter policies and reports carry them${fix}`,
      ];
    }
  }
  if (issue.code === 'invalid_type' && path.length > 0 && valueAt(candidate, path) === undefined) {
    return [`${where}: is required (a ${issue.expected})`];
  }
  return [`${where || 'PluginInfo'}: ${issue.message}`];
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = Reflect.get(value, key);
  }
  return value;
}

/** A legal plugin name close to `name`: spaces and other characters become dashes. */
function suggestedName(name: string): string | undefined {
  const slug = name
    .trim()
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return PLUGIN_NAME.test(slug) ? slug : undefined;
}

/** The known key nearest to `key` (case-insensitive edit distance at most a third of its length, min 2). */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: { readonly name: string; readonly distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  const allowed = Math.max(2, Math.floor(key.length / 3));
  return best !== undefined && best.distance <= allowed ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
