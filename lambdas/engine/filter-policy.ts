/**
 * The SNS subscription filter-policy grammar, evaluated by the engine itself.
 *
 * Plugboard decides at dispatch which plugins will receive a publish: a plugin whose registered
 * filter policy rejects the message is `Do Not Run` at once instead of being awaited until its
 * deadline. That only works if this module and SNS agree, so it follows the AWS documentation
 * (SNS Developer Guide: "Filter policy constraints", "String value matching", "Numeric value
 * matching", "Key matching", "AND/OR logic"; read in November 2026) and is checked against moto's
 * SNS in test/integration/filter-policy-moto.test.ts. Pure: no AWS SDK.
 *
 * Semantics, in short:
 * - A policy is an AND of keys; the values listed under one key are an OR. A message attribute (or
 *   body property) that the policy does not name is ignored.
 * - `$or` (top level or nested) is an OR between sub-policies. SNS only treats `"$or"` as an operator
 *   when its value is an array of at least two objects none of whose keys is a match operator;
 *   otherwise it is an ordinary key named `$or`.
 * - Attribute scope: `String` values are strings, `Number` values are compared numerically,
 *   `String.Array` is a JSON array whose elements are matched one by one (the key matches when any
 *   element matches; numbers in the array are numbers), `Binary` attributes are ignored as if absent.
 * - Body scope: the body must be a JSON object. Nested policy objects follow the body's nesting; a
 *   body array contributes each element (arrays of objects, arrays of arrays) and a key matches when
 *   any element matches. A dotted policy key `a.b` addresses the same property as `{a: {b}}`.
 * - Numbers: at most 10^9 in magnitude, five digits after the decimal point are significant.
 * - `exists: true` needs a non-null, non-empty value; `exists: false` matches when the key is absent,
 *   but in attribute scope only when the message carries at least one attribute ("An empty set of
 *   attributes results in the filter not matching").
 * - `anything-but` needs the key to be present; against an array it matches when any element is
 *   outside the list (the documented example: `["rugby","baseball"]` matches
 *   `anything-but ["rugby","tennis"]`). One revision of the docs also says "matches if none of the
 *   array elements are listed"; the examples, given for attributes and bodies alike, win here.
 * - `anything-but` accepts a value, a list, or `{"prefix": …}`. SNS rejects `{"suffix": …}` inside
 *   `anything-but` (it is an EventBridge-only form), and so do we.
 * - `cidr` is implemented for IPv4. `wildcard` is EventBridge-only and rejected like SNS does.
 *
 * Limits (AWS "Filter policy constraints"): at most 5 keys (attribute scope: every key; body scope:
 * top-level keys only) and at most 150 value combinations. Combinations are counted per `$or`
 * alternative and summed; within an alternative, each leaf array contributes
 * `values × nesting depth` and the contributions multiply (the documented body example: four values
 * three levels deep and three values two levels deep give 3 × 4 × 2 × 3 = 72). The depth factor is
 * also the nesting limit for body policies: a leaf deeper than 150 levels can never be within limits.
 * Keys are counted per alternative, which is our reading of "a filter policy can have a maximum of
 * five keys" for policies that use `$or`.
 */
import { EngineError } from './errors.js';

export type FilterPolicyScope = 'MessageAttributes' | 'MessageBody';

/** A message attribute in the shape SNS `Publish` takes. `String.Array` carries a JSON array string. */
export interface SnsMessageAttribute {
  readonly DataType: 'String' | 'Number' | 'String.Array' | 'Binary';
  readonly StringValue?: string;
  readonly BinaryValue?: Uint8Array;
}

export interface FilterPolicyMessage {
  readonly attributes: Readonly<Record<string, SnsMessageAttribute>>;
  readonly body: string;
}

export type PolicyScalar = string | number | boolean | null;

/** One entry of a key's value array: a literal, or an object with exactly one match operator. */
export type PolicyRule =
  | PolicyScalar
  | { readonly prefix: string }
  | { readonly suffix: string }
  | { readonly 'equals-ignore-case': string }
  | { readonly exists: boolean }
  | { readonly numeric: readonly (string | number)[] }
  | { readonly 'anything-but': string | number | readonly (string | number)[] | { readonly prefix: string } }
  | { readonly cidr: string };

/** A subscription filter policy: keys map to value arrays, nested objects (body scope) or `$or` arrays. */
export interface FilterPolicy {
  readonly [key: string]: readonly PolicyRule[] | readonly FilterPolicy[] | FilterPolicy;
}

export const FILTER_POLICY_LIMITS = {
  /** "A filter policy can have a maximum of five keys." */
  maxKeys: 5,
  /** "The total combination of values must not exceed 150." */
  maxCombinations: 150,
  /** "The value can range from -10^9 to 10^9." */
  maxNumericMagnitude: 1_000_000_000,
  /** "With five digits of accuracy after the decimal point." */
  numericDecimals: 5,
} as const;

/** The key Plugboard adds to every plugin subscription; plugins cannot filter on it themselves. */
export const TARGETING_KEY = 'plugins';

const STRING_OPERATORS = ['prefix', 'suffix', 'equals-ignore-case'] as const;
const OPERATORS = [...STRING_OPERATORS, 'anything-but', 'numeric', 'exists', 'cidr'] as const;
const RESERVED_WORDS: readonly string[] = [...OPERATORS, 'wildcard'];
const LOWER_BOUND_OPERATORS = ['>', '>='];
const UPPER_BOUND_OPERATORS = ['<', '<='];
const NUMERIC_OPERATORS = ['=', ...LOWER_BOUND_OPERATORS, ...UPPER_BOUND_OPERATORS];

/**
 * A malformed filter policy. `path` points at the offending part (`$` is the policy itself); the
 * message names the path, the problem and the fix. Never retryable: the policy must be changed.
 */
export class FilterPolicyError extends EngineError {
  readonly retryable = false;
  constructor(
    readonly path: string,
    readonly problem: string,
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`Invalid filter policy at ${path}: ${problem}. ${fix}`, options);
  }
}

// ---------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------

/**
 * Checks a policy against the SNS grammar and limits and returns it typed. Accepts the parsed object
 * or its JSON text. Without `scope`, nesting is allowed (as for `MessageBody`); pass the
 * subscription's scope to also reject nested keys in attribute policies.
 */
export function validateFilterPolicy(policy: unknown, scope?: FilterPolicyScope): FilterPolicy {
  return compile(policy, scope).policy;
}

function compile(
  policy: unknown,
  scope: FilterPolicyScope | undefined,
): { readonly policy: FilterPolicy; readonly alternatives: readonly Alternative[] } {
  const parsed = parsePolicyObject(parseJsonText(policy), '$', scope, 1, 1);
  return { policy: parsed, alternatives: expand(parsed, scope) };
}

/**
 * The policy a plugin's subscription must carry: the plugin's own policy AND `plugins: [pluginName]`.
 *
 * SNS applies one scope per subscription, so the targeting goes where the scope looks: the
 * `plugins` String.Array message attribute for `MessageAttributes`, and the `plugins` array of the
 * plugin message body (pluginMessageSchema) for `MessageBody`. A top-level `$or` in the plugin's
 * policy stays intact: `plugins` becomes one more key beside it, i.e. `plugins AND (a OR b)`, which
 * is the plugin's own semantics restricted to the publishes that target it. The plugin's policy is
 * validated first (a registration stores it unvalidated). Because `plugins` counts
 * toward the five-key limit, a plugin policy may use at most four keys (per `$or` alternative).
 */
export function mergeTargeting(
  policy: FilterPolicy | Readonly<Record<string, unknown>> | undefined,
  scope: FilterPolicyScope,
  pluginName: string,
): FilterPolicy {
  if (pluginName.length === 0) {
    throw new FilterPolicyError(
      `$.${TARGETING_KEY}`,
      'the plugin name is empty',
      'Register the plugin with its name.',
    );
  }
  const { policy: own, alternatives } = compile(policy ?? {}, scope);
  for (const alternative of alternatives) {
    const clash = alternative.find(
      (condition) =>
        condition.topKey === TARGETING_KEY ||
        (scope === 'MessageBody' && condition.path.startsWith(`${TARGETING_KEY}.`)),
    );
    if (clash) {
      throw new FilterPolicyError(
        `$.${clash.path}`,
        `"${TARGETING_KEY}" is reserved: Plugboard adds "${TARGETING_KEY}": ["<plugin name>"] to every plugin subscription`,
        'Remove that key from the plugin filter policy; Plugboard targets plugins itself.',
      );
    }
  }
  const merged: FilterPolicy = { [TARGETING_KEY]: [pluginName], ...own };
  try {
    return validateFilterPolicy(merged, scope);
  } catch (error) {
    if (error instanceof FilterPolicyError) {
      throw new FilterPolicyError(
        error.path,
        `with Plugboard's "${TARGETING_KEY}" key added, ${error.problem}`,
        `Plugboard adds one key, so a plugin policy may use at most ${FILTER_POLICY_LIMITS.maxKeys - 1} keys and ${FILTER_POLICY_LIMITS.maxCombinations} combinations.`,
        { cause: error },
      );
    }
    throw error;
  }
}

function parseJsonText(policy: unknown): unknown {
  if (typeof policy !== 'string') return policy;
  try {
    return JSON.parse(policy);
  } catch (error) {
    throw new FilterPolicyError(
      '$',
      'the text is not valid JSON',
      'Pass a JSON object such as {"store": ["example_corp"]}.',
      { cause: error },
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Whether `"$or": value` is the OR operator (two or more objects with no operator keys). */
function isOrOperator(value: unknown): value is readonly Record<string, unknown>[] {
  return (
    Array.isArray(value) &&
    value.length >= 2 &&
    value.every(
      (branch) => isPlainObject(branch) && !Object.keys(branch).some((k) => RESERVED_WORDS.includes(k)),
    )
  );
}

function parsePolicyObject(
  value: unknown,
  path: string,
  scope: FilterPolicyScope | undefined,
  depth: number,
  level: number,
): FilterPolicy {
  if (!isPlainObject(value)) {
    throw new FilterPolicyError(
      path,
      `expected a JSON object, got ${describe(value)}`,
      'A filter policy maps keys to arrays of values, e.g. {"store": ["example_corp"]}.',
    );
  }
  const keys = Object.keys(value);
  if (keys.length === 0 && level > 1) {
    throw new FilterPolicyError(path, 'the object is empty', 'Give it at least one key, or remove it.');
  }
  // Each nested object multiplies a leaf's weight and each nested $or adds an alternative, so a
  // structure deeper than the combination limit can never be valid: stop before recursing further.
  if (level > FILTER_POLICY_LIMITS.maxCombinations) {
    throw new FilterPolicyError(
      path,
      `nesting depth ${level} (objects and $or) alone exceeds ${FILTER_POLICY_LIMITS.maxCombinations} combinations`,
      'Flatten the policy.',
    );
  }
  const result: Record<string, readonly PolicyRule[] | readonly FilterPolicy[] | FilterPolicy> = {};
  for (const key of keys) {
    const entry = value[key];
    const entryPath = childPath(path, key);
    if (key === '$or' && isOrOperator(entry)) {
      result[key] = entry.map((branch, index) =>
        parsePolicyObject(branch, `${entryPath}[${index}]`, scope, depth, level + 1),
      );
    } else if (Array.isArray(entry)) {
      result[key] = parseRules(entry, entryPath);
    } else if (isPlainObject(entry)) {
      if (scope === 'MessageAttributes') {
        throw new FilterPolicyError(
          entryPath,
          'attribute policies cannot nest objects (message attributes are flat)',
          RESERVED_WORDS.some((word) => word in entry)
            ? 'Wrap the operator in an array: "key": [{"prefix": "…"}].'
            : 'Use FilterPolicyScope "MessageBody" to filter on nested body properties.',
        );
      }
      result[key] = parsePolicyObject(entry, entryPath, scope, depth + 1, level + 1);
    } else {
      throw new FilterPolicyError(
        entryPath,
        `must be an array of match values or an object, got ${describe(entry)}`,
        `Wrap the value in an array: "${key}": [${JSON.stringify(entry)}].`,
      );
    }
  }
  return result;
}

function parseRules(values: readonly unknown[], path: string): readonly PolicyRule[] {
  if (values.length === 0) {
    throw new FilterPolicyError(path, 'the value array is empty', 'List at least one value or operator.');
  }
  return values.map((value, index) => parseRule(value, `${path}[${index}]`));
}

function parseRule(value: unknown, path: string): PolicyRule {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return checkedNumber(value, path);
  if (Array.isArray(value)) {
    throw new FilterPolicyError(
      path,
      'nested arrays are not allowed',
      'List the values directly in the key array: "key": ["a", "b"].',
    );
  }
  if (!isPlainObject(value)) {
    throw new FilterPolicyError(
      path,
      `a match value must be a string, number, true, false, null or an operator object, got ${describe(value)}`,
      'Use a JSON literal or an operator such as {"prefix": "…"}.',
    );
  }
  const operators = Object.keys(value);
  const [operator] = operators;
  if (operator === undefined || operators.length !== 1) {
    throw new FilterPolicyError(
      path,
      `an operator object needs exactly one operator, got ${operators.length} (${operators.join(', ') || 'none'})`,
      'Split it into separate array entries: [{"prefix": "a"}, {"suffix": "b"}] (entries are ORed).',
    );
  }
  const operand = value[operator];
  const operandPath = childPath(path, operator);
  switch (operator) {
    case 'prefix':
      return { prefix: checkedString(operand, operandPath, operator) };
    case 'suffix':
      return { suffix: checkedString(operand, operandPath, operator) };
    case 'equals-ignore-case':
      return { 'equals-ignore-case': checkedString(operand, operandPath, operator) };
    case 'exists':
      if (typeof operand !== 'boolean') {
        throw new FilterPolicyError(
          operandPath,
          `exists takes true or false, got ${describe(operand)}`,
          'Use {"exists": true} or {"exists": false}.',
        );
      }
      return { exists: operand };
    case 'numeric':
      return { numeric: checkedNumericOperand(operand, operandPath) };
    case 'anything-but':
      return { 'anything-but': checkedAnythingBut(operand, operandPath) };
    case 'cidr': {
      const block = checkedString(operand, operandPath, 'cidr');
      parseCidr(block, operandPath);
      return { cidr: block };
    }
    case 'wildcard':
      throw new FilterPolicyError(
        path,
        '"wildcard" is an EventBridge operator; SNS filter policies do not support it',
        'Use "prefix", "suffix" or exact values.',
      );
    default:
      throw new FilterPolicyError(
        path,
        `unknown operator "${operator}"`,
        `SNS supports ${OPERATORS.map((o) => `"${o}"`).join(', ')} and "$or" (as a key).`,
      );
  }
}

function checkedString(value: unknown, path: string, operator: string): string {
  if (typeof value !== 'string') {
    throw new FilterPolicyError(
      path,
      `${operator} takes a string, got ${describe(value)}`,
      `Write {"${operator}": "text"}.`,
    );
  }
  return value;
}

function checkedNumber(value: number, path: string): number {
  const limit = FILTER_POLICY_LIMITS.maxNumericMagnitude;
  if (!Number.isFinite(value) || Math.abs(value) > limit) {
    throw new FilterPolicyError(
      path,
      `the number ${value} is outside the SNS range of -${limit} to ${limit}`,
      'Use a number within ±10^9 (five decimal places are significant).',
    );
  }
  return value;
}

function checkedNumericOperand(operand: unknown, path: string): readonly (string | number)[] {
  const fix = 'Write ["=", 5], [">", 0], or a range [">", 0, "<=", 150] (lower bound first).';
  if (!Array.isArray(operand) || operand.length === 0) {
    throw new FilterPolicyError(
      path,
      `numeric takes an array of operators and numbers, got ${describe(operand)}`,
      fix,
    );
  }
  const [op1, n1, op2, n2, ...rest] = operand as unknown[];
  if (typeof op1 !== 'string' || !NUMERIC_OPERATORS.includes(op1)) {
    throw new FilterPolicyError(`${path}[0]`, `unknown numeric operator ${describe(op1)}`, fix);
  }
  if (typeof n1 !== 'number') {
    throw new FilterPolicyError(
      `${path}[1]`,
      `the value of "${op1}" must be a number, got ${describe(n1)}`,
      fix,
    );
  }
  checkedNumber(n1, `${path}[1]`);
  if (operand.length === 2) return [op1, n1];
  if (!LOWER_BOUND_OPERATORS.includes(op1)) {
    throw new FilterPolicyError(path, `"${op1}" cannot start a range`, fix);
  }
  if (typeof op2 !== 'string' || !UPPER_BOUND_OPERATORS.includes(op2)) {
    throw new FilterPolicyError(
      `${path}[2]`,
      `a range needs "<" or "<=" as its upper bound, got ${describe(op2)}`,
      fix,
    );
  }
  if (typeof n2 !== 'number') {
    throw new FilterPolicyError(
      `${path}[3]`,
      `the value of "${op2}" must be a number, got ${describe(n2)}`,
      fix,
    );
  }
  checkedNumber(n2, `${path}[3]`);
  if (rest.length > 0) {
    throw new FilterPolicyError(path, 'a numeric range has at most two bounds', fix);
  }
  if (n2 <= n1) {
    throw new FilterPolicyError(
      path,
      `the range is empty: the lower bound ${n1} is not below the upper bound ${n2}`,
      fix,
    );
  }
  return [op1, n1, op2, n2];
}

function checkedAnythingBut(
  operand: unknown,
  path: string,
): string | number | readonly (string | number)[] | { readonly prefix: string } {
  if (typeof operand === 'string') return operand;
  if (typeof operand === 'number') return checkedNumber(operand, path);
  const fix = 'Write {"anything-but": "x"}, {"anything-but": ["x", 5]} or {"anything-but": {"prefix": "x"}}.';
  if (Array.isArray(operand)) {
    if (operand.length === 0) throw new FilterPolicyError(path, 'the anything-but list is empty', fix);
    return operand.map((item: unknown, index) => {
      if (typeof item === 'string') return item;
      if (typeof item === 'number') return checkedNumber(item, `${path}[${index}]`);
      throw new FilterPolicyError(
        `${path}[${index}]`,
        `anything-but lists take strings and numbers, got ${describe(item)}`,
        fix,
      );
    });
  }
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length === 1 && keys[0] === 'prefix') {
      return { prefix: checkedString(operand.prefix, `${path}.prefix`, 'prefix') };
    }
    throw new FilterPolicyError(
      path,
      `SNS supports only {"prefix": …} inside anything-but, got ${keys.map((k) => `"${k}"`).join(', ') || 'an empty object'}`,
      keys.includes('suffix')
        ? 'anything-but with a suffix is EventBridge-only; list the excluded values instead.'
        : fix,
    );
  }
  throw new FilterPolicyError(
    path,
    `anything-but takes a string, number, list or {"prefix": …}, got ${describe(operand)}`,
    fix,
  );
}

interface Cidr {
  readonly network: number;
  readonly mask: number;
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let address = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    address = address * 256 + octet;
  }
  return address;
}

function parseCidr(text: string, path: string): Cidr {
  const [ip, bits, ...rest] = text.split('/');
  const address = ip === undefined ? undefined : parseIpv4(ip);
  const maskBits = bits !== undefined && /^\d{1,2}$/.test(bits) ? Number(bits) : Number.NaN;
  if (rest.length > 0 || address === undefined || !(maskBits >= 0 && maskBits <= 32)) {
    throw new FilterPolicyError(
      path,
      `"${text}" is not an IPv4 CIDR block (Plugboard evaluates IPv4 CIDR only)`,
      'Write it as a.b.c.d/n with n from 0 to 32, e.g. "10.0.0.0/24".',
    );
  }
  const mask = maskBits === 0 ? 0 : (0xffffffff << (32 - maskBits)) >>> 0;
  return { network: (address & mask) >>> 0, mask };
}

// ---------------------------------------------------------------------------------------------------
// Expansion into alternatives ($or) and limits
// ---------------------------------------------------------------------------------------------------

interface Condition {
  /** Dotted path of the property (attribute name in attribute scope). */
  readonly path: string;
  /** The top-level policy key the condition sits under; what the five-key limit counts in body scope. */
  readonly topKey: string;
  readonly depth: number;
  readonly rules: readonly PolicyRule[];
}
type Alternative = readonly Condition[];

type PolicyEntry = FilterPolicy[string];

function isNestedPolicy(value: PolicyEntry): value is FilterPolicy {
  return !Array.isArray(value);
}

/** In a validated policy, an array under `$or` that has the operator's shape is a list of branches. */
function isBranchList(
  key: string,
  value: readonly PolicyRule[] | readonly FilterPolicy[],
): value is readonly FilterPolicy[] {
  return key === '$or' && isOrOperator(value);
}

/**
 * Rewrites a validated policy as an OR of alternatives, each an AND of conditions, and enforces the
 * key and combination limits on the way (bailing out before a pathological `$or` can explode).
 */
function expand(policy: FilterPolicy, scope: FilterPolicyScope | undefined): readonly Alternative[] {
  const alternatives = expandObject(policy, '', undefined, 1);
  let combinations = 0;
  for (const alternative of alternatives) {
    const keys = new Set(alternative.map((c) => (scope === 'MessageAttributes' ? c.path : c.topKey)));
    if (keys.size > FILTER_POLICY_LIMITS.maxKeys) {
      throw new FilterPolicyError(
        '$',
        `${keys.size} keys (${[...keys].join(', ')}) where SNS allows ${FILTER_POLICY_LIMITS.maxKeys}`,
        'Drop keys, or move some under a nested object (body scope counts top-level keys only).',
      );
    }
    combinations += alternative.reduce((product, c) => product * c.rules.length * c.depth, 1);
  }
  if (combinations > FILTER_POLICY_LIMITS.maxCombinations) {
    throw new FilterPolicyError(
      '$',
      `the policy is too complex: ${combinations} value combinations where SNS allows ${FILTER_POLICY_LIMITS.maxCombinations} (values multiply across keys, each weighted by its nesting depth, and $or alternatives add up)`,
      'Use fewer values per key, fewer keys, or prefix/numeric ranges instead of long lists.',
    );
  }
  return alternatives;
}

function expandObject(
  policy: FilterPolicy,
  prefix: string,
  topKey: string | undefined,
  depth: number,
): Alternative[] {
  let alternatives: Alternative[] = [[]];
  for (const [key, value] of Object.entries(policy)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const top = topKey ?? key;
    let expansion: Alternative[];
    if (isNestedPolicy(value)) {
      expansion = expandObject(value, path, top, depth + 1);
    } else if (isBranchList(key, value)) {
      expansion = value.flatMap((branch) => expandObject(branch, prefix, topKey, depth));
    } else {
      expansion = [[{ path, topKey: top, depth, rules: value }]];
    }
    alternatives = alternatives.flatMap((alternative) =>
      expansion.map((extra) => [...alternative, ...extra]),
    );
    if (alternatives.length > FILTER_POLICY_LIMITS.maxCombinations) {
      throw new FilterPolicyError(
        '$',
        `the policy is too complex: more than ${FILTER_POLICY_LIMITS.maxCombinations} $or alternatives`,
        'Use fewer $or branches.',
      );
    }
  }
  return alternatives;
}

// ---------------------------------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------------------------------

type Leaf = string | number | boolean | null;

interface MessageView {
  /** The leaf values at a path; empty when the property is absent. */
  values(path: string): readonly Leaf[];
  /** Whether `exists: false` may match at all (attribute scope: the message has an attribute). */
  readonly absenceCounts: boolean;
}

/**
 * Whether SNS would deliver `message` to a subscription with this policy and scope. Validates the
 * policy first and throws FilterPolicyError when it is malformed (SNS would have refused it).
 */
export function matchesFilterPolicy(
  policy: FilterPolicy,
  scope: FilterPolicyScope,
  message: FilterPolicyMessage,
): boolean {
  const { alternatives } = compile(policy, scope);
  if (Object.keys(policy).length === 0) return true;
  const view = scope === 'MessageAttributes' ? attributeView(message.attributes) : bodyView(message.body);
  if (view === undefined) return false;
  return alternatives.some((alternative) =>
    alternative.every((condition) => matchesCondition(condition.rules, view.values(condition.path), view)),
  );
}

function attributeView(attributes: Readonly<Record<string, SnsMessageAttribute>>): MessageView {
  const usable = Object.entries(attributes).filter(([, attribute]) => attribute.DataType !== 'Binary');
  const byName = new Map(usable);
  return {
    absenceCounts: usable.length > 0,
    values(name) {
      const attribute = byName.get(name);
      return attribute === undefined ? [] : attributeLeaves(attribute);
    },
  };
}

function attributeLeaves(attribute: SnsMessageAttribute): readonly Leaf[] {
  const text = attribute.StringValue;
  if (text === undefined) return [];
  switch (attribute.DataType) {
    case 'String':
      return [text];
    case 'Number': {
      const value = text.trim() === '' ? Number.NaN : Number(text);
      return Number.isFinite(value) ? [value] : [];
    }
    case 'String.Array': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return [];
      }
      return Array.isArray(parsed) ? parsed.filter(isLeaf) : [];
    }
    default:
      return [];
  }
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function bodyView(body: string): MessageView | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed)) return undefined;
  const leaves = new Map<string, Leaf[]>();
  const visit = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      for (const element of value) visit(element, path);
    } else if (isPlainObject(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, path ? `${path}.${key}` : key);
    } else if (isLeaf(value)) {
      const list = leaves.get(path);
      if (list) list.push(value);
      else leaves.set(path, [value]);
    }
  };
  visit(parsed, '');
  return { absenceCounts: true, values: (path) => leaves.get(path) ?? [] };
}

function matchesCondition(rules: readonly PolicyRule[], values: readonly Leaf[], view: MessageView): boolean {
  const present = values.some((value) => value !== null);
  return rules.some((rule) => {
    if (isOperator(rule, 'exists')) return rule.exists ? present : !present && view.absenceCounts;
    return values.some((value) => matchesValue(rule, value));
  });
}

function isOperator<K extends string>(
  rule: PolicyRule,
  operator: K,
): rule is Extract<PolicyRule, Record<K, unknown>> {
  return isPlainObject(rule) && operator in rule;
}

const SCALE = 10 ** FILTER_POLICY_LIMITS.numericDecimals;
/** Numbers compare at five decimal places, as SNS documents. */
function scaled(value: number): number {
  return Math.round(value * SCALE);
}

function matchesValue(rule: PolicyRule, value: Leaf): boolean {
  if (!isPlainObject(rule)) {
    if (typeof rule === 'number') return typeof value === 'number' && scaled(value) === scaled(rule);
    return value === rule;
  }
  if (value === null) return false;
  if (isOperator(rule, 'prefix')) return typeof value === 'string' && value.startsWith(rule.prefix);
  if (isOperator(rule, 'suffix')) return typeof value === 'string' && value.endsWith(rule.suffix);
  if (isOperator(rule, 'equals-ignore-case')) {
    return typeof value === 'string' && value.toLowerCase() === rule['equals-ignore-case'].toLowerCase();
  }
  if (isOperator(rule, 'numeric')) return typeof value === 'number' && matchesNumeric(rule.numeric, value);
  if (isOperator(rule, 'anything-but')) return matchesAnythingBut(rule['anything-but'], value);
  if (isOperator(rule, 'cidr')) {
    if (typeof value !== 'string') return false;
    const address = parseIpv4(value);
    const block = parseCidr(rule.cidr, '$');
    return address !== undefined && (address & block.mask) >>> 0 === block.network;
  }
  return false;
}

function matchesNumeric(operand: readonly (string | number)[], value: number): boolean {
  const actual = scaled(value);
  for (let i = 0; i + 1 < operand.length; i += 2) {
    const operator = operand[i];
    const bound = operand[i + 1];
    if (typeof bound !== 'number') return false;
    const limit = scaled(bound);
    const holds =
      operator === '='
        ? actual === limit
        : operator === '<'
          ? actual < limit
          : operator === '<='
            ? actual <= limit
            : operator === '>'
              ? actual > limit
              : operator === '>='
                ? actual >= limit
                : false;
    if (!holds) return false;
  }
  return true;
}

function matchesAnythingBut(
  operand: string | number | readonly (string | number)[] | { readonly prefix: string },
  value: Exclude<Leaf, null>,
): boolean {
  if (isPrefixExclusion(operand)) return typeof value === 'string' && !value.startsWith(operand.prefix);
  const excluded = typeof operand === 'string' || typeof operand === 'number' ? [operand] : operand;
  return !excluded.some((item) =>
    typeof item === 'number' ? typeof value === 'number' && scaled(value) === scaled(item) : value === item,
  );
}

function isPrefixExclusion(
  operand: string | number | readonly (string | number)[] | { readonly prefix: string },
): operand is { readonly prefix: string } {
  return typeof operand === 'object' && !Array.isArray(operand);
}
