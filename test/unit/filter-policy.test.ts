import { describe, expect, it } from 'vitest';
import { EngineError } from '../../lambdas/engine/errors.js';
import {
  FILTER_POLICY_LIMITS,
  type FilterPolicy,
  FilterPolicyError,
  type FilterPolicyScope,
  matchesFilterPolicy,
  mergeTargeting,
  type SnsMessageAttribute,
  validateFilterPolicy,
} from '../../lambdas/engine/filter-policy.js';
import { FILTER_POLICY_CASES } from '../fixtures/filter-policy-cases.js';

const str = (value: string): SnsMessageAttribute => ({ DataType: 'String', StringValue: value });
const num = (value: string): SnsMessageAttribute => ({ DataType: 'Number', StringValue: value });
const list = (values: readonly unknown[]): SnsMessageAttribute => ({
  DataType: 'String.Array',
  StringValue: JSON.stringify(values),
});

function attributesMatch(policy: FilterPolicy, attributes: Record<string, SnsMessageAttribute>): boolean {
  return matchesFilterPolicy(policy, 'MessageAttributes', { attributes, body: 'ignored' });
}

function bodyMatches(policy: FilterPolicy, body: unknown): boolean {
  return matchesFilterPolicy(policy, 'MessageBody', {
    attributes: {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Runs `act` and returns the FilterPolicyError it throws (failing the test if it throws nothing else). */
function policyError(act: () => unknown): FilterPolicyError {
  try {
    act();
  } catch (error) {
    expect(error).toBeInstanceOf(FilterPolicyError);
    return error as FilterPolicyError;
  }
  throw new Error('expected a FilterPolicyError, but nothing was thrown');
}

describe('the shared filter-policy table', () => {
  it('has at least 45 cases, positive and negative, in both scopes', () => {
    expect(FILTER_POLICY_CASES.length).toBeGreaterThanOrEqual(45);
    for (const scope of ['MessageAttributes', 'MessageBody'] as const) {
      const inScope = FILTER_POLICY_CASES.filter((c) => c.scope === scope);
      expect(inScope.some((c) => c.expected)).toBe(true);
      expect(inScope.some((c) => !c.expected)).toBe(true);
    }
  });

  it('exercises every operator, positively and negatively', () => {
    const operatorsIn = (value: unknown): string[] => {
      if (Array.isArray(value)) return value.flatMap(operatorsIn);
      if (value === null || typeof value !== 'object') return [];
      return Object.entries(value).flatMap(([key, inner]) => [key, ...operatorsIn(inner)]);
    };
    for (const operator of [
      'prefix',
      'suffix',
      'equals-ignore-case',
      'anything-but',
      'numeric',
      'exists',
      '$or',
    ]) {
      const cases = FILTER_POLICY_CASES.filter((c) => operatorsIn(c.policy).includes(operator));
      expect({
        operator,
        positive: cases.some((c) => c.expected),
        negative: cases.some((c) => !c.expected),
      }).toEqual({
        operator,
        positive: true,
        negative: true,
      });
    }
  });

  it('records what moto does for every case it flags as diverging', () => {
    const flagged = FILTER_POLICY_CASES.filter((c) => c.motoDiverges !== undefined);
    expect(flagged.every((c) => c.motoOutcome !== undefined && c.motoOutcome !== c.expected)).toBe(true);
    expect(
      FILTER_POLICY_CASES.filter((c) => c.motoDiverges === undefined && c.motoOutcome !== undefined),
    ).toEqual([]);
  });

  it.each(FILTER_POLICY_CASES.map((c) => [c.name, c] as const))('%s', (_name, testCase) => {
    expect(
      matchesFilterPolicy(testCase.policy, testCase.scope, {
        attributes: testCase.attributes,
        body: testCase.body,
      }),
    ).toBe(testCase.expected);
  });
});

describe('matchesFilterPolicy beyond what moto can show', () => {
  it('matches everything with an empty policy, even a body that is not JSON', () => {
    expect(bodyMatches({}, 'not json')).toBe(true);
    expect(attributesMatch({}, {})).toBe(true);
  });

  it('compares numbers to five decimal places', () => {
    expect(attributesMatch({ price: [{ numeric: ['=', 1] }] }, { price: num('1.000001') })).toBe(true);
    expect(attributesMatch({ price: [{ numeric: ['=', 1] }] }, { price: num('1.00001') })).toBe(false);
    expect(attributesMatch({ price: [10.5] }, { price: num('10.500004') })).toBe(true);
  });

  it('matches IPv4 addresses against a cidr block', () => {
    const policy: FilterPolicy = { source_ip: [{ cidr: '10.0.0.0/24' }] };
    expect(attributesMatch(policy, { source_ip: str('10.0.0.255') })).toBe(true);
    expect(attributesMatch(policy, { source_ip: str('10.0.1.0') })).toBe(false);
    expect(attributesMatch(policy, { source_ip: str('not-an-ip') })).toBe(false);
    expect(attributesMatch({ ip: [{ cidr: '0.0.0.0/0' }] }, { ip: str('192.168.1.1') })).toBe(true);
  });

  it('matches null in a body with a null rule, and never treats null as present', () => {
    expect(bodyMatches({ store: [null] }, { store: null })).toBe(true);
    expect(bodyMatches({ store: [{ exists: false }] }, { store: null })).toBe(true);
    expect(bodyMatches({ store: [{ 'anything-but': 'x' }] }, { store: null })).toBe(false);
  });

  it('treats an empty body array as absent', () => {
    expect(bodyMatches({ tags: [{ exists: true }] }, { tags: [] })).toBe(false);
    expect(bodyMatches({ tags: [{ exists: false }] }, { tags: [] })).toBe(true);
  });

  it('treats a missing parent object as a missing property for exists:false', () => {
    expect(bodyMatches({ object: { key: [{ exists: false }] } }, { other: 1 })).toBe(true);
  });

  it('reaches into arrays of arrays of objects in the body', () => {
    const policy: FilterPolicy = { Records: { s3: { object: { key: [{ prefix: 'auto-' }] } } } };
    expect(bodyMatches(policy, { Records: [{ s3: { object: [[{ key: 'auto-insurance.xml' }]] } }] })).toBe(
      true,
    );
    expect(bodyMatches(policy, { Records: [{ s3: { object: [[{ key: 'home-insurance.xml' }]] } }] })).toBe(
      false,
    );
  });

  it('treats a dotted policy key and nested objects as the same path, in both directions', () => {
    expect(bodyMatches({ object: { nested: ['v'] } }, { 'object.nested': 'v' })).toBe(true);
    expect(bodyMatches({ 'object.nested': ['v'] }, { object: { nested: 'v' } })).toBe(true);
  });

  it('matches numeric operators against numbers inside a String.Array', () => {
    expect(attributesMatch({ sizes: [{ numeric: ['>', 10] }] }, { sizes: list([1, 'big', 11]) })).toBe(true);
    expect(attributesMatch({ sizes: [{ numeric: ['>', 10] }] }, { sizes: list(['11']) })).toBe(false);
  });

  it('lets anything-but numbers match a String attribute, which is no number at all', () => {
    expect(attributesMatch({ code: [{ 'anything-but': [100] }] }, { code: str('100') })).toBe(true);
  });

  it('does not match a String.Array attribute whose value is not a JSON array', () => {
    expect(attributesMatch({ tags: ['a'] }, { tags: { DataType: 'String.Array', StringValue: 'a,b' } })).toBe(
      false,
    );
    expect(attributesMatch({ tags: [{ exists: true }] }, { tags: list([]) })).toBe(false);
  });

  it('ignores Binary attributes when deciding whether a message has attributes at all', () => {
    const binaryOnly = { blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1]) } } as const;
    expect(attributesMatch({ store: [{ exists: false }] }, binaryOnly)).toBe(false);
    expect(attributesMatch({ blob: [{ exists: false }] }, { ...binaryOnly, other: str('x') })).toBe(true);
  });

  it('throws a FilterPolicyError for a policy SNS would refuse', () => {
    const malformed = { key: 'value' } as unknown as FilterPolicy;
    expect(() => attributesMatch(malformed, { key: str('value') })).toThrow(FilterPolicyError);
  });
});

describe('validateFilterPolicy', () => {
  it('returns a valid policy unchanged, from an object or from its JSON text', () => {
    const policy = {
      store: ['example_corp'],
      event: [{ 'anything-but': 'order_cancelled' }],
      price_usd: [{ numeric: ['>=', 100] }],
      $or: [{ a: [true, null, 1.5] }, { b: [{ exists: false }] }],
    };
    expect(validateFilterPolicy(policy)).toEqual(policy);
    expect(validateFilterPolicy(JSON.stringify(policy))).toEqual(policy);
  });

  it('raises a FilterPolicyError: an engine error that names itself, is never retried and keeps its cause', () => {
    const error = policyError(() => validateFilterPolicy('{"store": ['));
    expect(error).toBeInstanceOf(EngineError);
    expect(error.name).toBe('FilterPolicyError');
    expect(error.retryable).toBe(false);
    expect(error.path).toBe('$');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it.each<[string, unknown, string, RegExp]>([
    ['an array instead of an object', ['store'], '$', /expected a JSON object, got an array/],
    [
      'a scalar key value',
      { key: 'value' },
      '$.key',
      /must be an array of match values or an object.*Wrap the value in an array/,
    ],
    ['an empty value array', { key: [] }, '$.key', /value array is empty/],
    ['a nested value array', { key: [['value']] }, '$.key[0]', /nested arrays are not allowed/],
    [
      'an object that is neither literal nor operator',
      { key: [{}] },
      '$.key[0]',
      /exactly one operator, got 0/,
    ],
    [
      'two operators in one object',
      { key: [{ prefix: 'a', suffix: 'b' }] },
      '$.key[0]',
      /exactly one operator, got 2/,
    ],
    [
      'an unknown operator',
      { key: [{ startswith: 'a' }] },
      '$.key[0]',
      /unknown operator "startswith".*SNS supports "prefix"/,
    ],
    [
      'the EventBridge wildcard operator',
      { key: [{ wildcard: '*.png' }] },
      '$.key[0]',
      /EventBridge operator/,
    ],
    [
      'a numeric prefix',
      { key: [{ prefix: 100 }] },
      '$.key[0].prefix',
      /prefix takes a string, got number 100/,
    ],
    ['a null suffix', { key: [{ suffix: null }] }, '$.key[0].suffix', /suffix takes a string, got null/],
    ['exists with a string', { key: [{ exists: 'no' }] }, '$.key[0].exists', /exists takes true or false/],
    ['an empty numeric array', { key: [{ numeric: [] }] }, '$.key[0].numeric', /numeric takes an array/],
    [
      'an unknown numeric operator',
      { key: [{ numeric: ['!=', 1] }] },
      '$.key[0].numeric[0]',
      /unknown numeric operator/,
    ],
    [
      'a number before its operator',
      { key: [{ numeric: [1, '<='] }] },
      '$.key[0].numeric[0]',
      /unknown numeric operator number 1/,
    ],
    [
      'a quoted number',
      { key: [{ numeric: ['=', '000'] }] },
      '$.key[0].numeric[1]',
      /value of "=" must be a number/,
    ],
    [
      'a missing bound',
      { key: [{ numeric: ['>='] }] },
      '$.key[0].numeric[1]',
      /must be a number, got undefined/,
    ],
    [
      'a range that starts with <',
      { key: [{ numeric: ['<', 100, '>', 10] }] },
      '$.key[0].numeric',
      /"<" cannot start a range/,
    ],
    ['two lower bounds', { key: [{ numeric: ['>=', 1, '>', 2] }] }, '$.key[0].numeric[2]', /upper bound/],
    ['an empty range', { key: [{ numeric: ['>', 3, '<', 1] }] }, '$.key[0].numeric', /range is empty/],
    [
      'a range missing its operator',
      { key: [{ numeric: ['>', 20, 30] }] },
      '$.key[0].numeric[2]',
      /upper bound, got number 30/,
    ],
    [
      'a range with three bounds',
      { key: [{ numeric: ['>', 20, '<', 30, '<', 50] }] },
      '$.key[0].numeric',
      /at most two bounds/,
    ],
    ['a number beyond 10^9', { key: [2_000_000_000] }, '$.key[0]', /outside the SNS range/],
    [
      'a numeric bound beyond 10^9',
      { key: [{ numeric: ['<', -1e10] }] },
      '$.key[0].numeric[1]',
      /outside the SNS range/,
    ],
    [
      'anything-but with a suffix',
      { key: [{ 'anything-but': { suffix: '.png' } }] },
      '$.key[0].anything-but',
      /only \{"prefix": …\}.*EventBridge-only/,
    ],
    [
      'anything-but with exists',
      { key: [{ 'anything-but': { exists: false } }] },
      '$.key[0].anything-but',
      /only \{"prefix": …\}/,
    ],
    [
      'anything-but with a numeric prefix',
      { key: [{ 'anything-but': { prefix: 1 } }] },
      '$.key[0].anything-but.prefix',
      /prefix takes a string/,
    ],
    [
      'an empty anything-but list',
      { key: [{ 'anything-but': [] }] },
      '$.key[0].anything-but',
      /list is empty/,
    ],
    [
      'a boolean in an anything-but list',
      { key: [{ 'anything-but': [true] }] },
      '$.key[0].anything-but[0]',
      /strings and numbers/,
    ],
    ['a malformed cidr block', { ip: [{ cidr: '10.0.0.0' }] }, '$.ip[0].cidr', /not an IPv4 CIDR block/],
    ['an IPv6 cidr block', { ip: [{ cidr: '2001:db8::/32' }] }, '$.ip[0].cidr', /IPv4 CIDR only/],
    ['an empty nested object', { detail: {} }, '$.detail', /object is empty/],
    [
      'a single-branch $or, which is an ordinary key',
      { $or: [{ a: ['1'] }] },
      '$["$or"][0]',
      /unknown operator "a"/,
    ],
  ])('rejects %s, naming the path and the fix', (_label, policy, path, message) => {
    const error = policyError(() => validateFilterPolicy(policy));
    expect(error.path).toBe(path);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`Invalid filter policy at ${path}:`);
  });

  it('rejects nested objects in attribute policies but accepts them for the body', () => {
    const nested = { object: { key: [{ prefix: 'auto-' }] } };
    const error = policyError(() => validateFilterPolicy(nested, 'MessageAttributes'));
    expect(error.path).toBe('$.object');
    expect(error.message).toMatch(/Use FilterPolicyScope "MessageBody"/);
    expect(validateFilterPolicy(nested, 'MessageBody')).toEqual(nested);
    expect(validateFilterPolicy(nested)).toEqual(nested);
  });

  it('tells an attribute policy author to wrap an operator written without its array', () => {
    const error = policyError(() => validateFilterPolicy({ key: { suffix: 'value' } }, 'MessageAttributes'));
    expect(error.message).toMatch(/Wrap the operator in an array/);
  });

  it('rejects nested objects inside $or branches of attribute policies', () => {
    const policy = { $or: [{ a: ['1'] }, { b: { c: ['2'] } }] };
    expect(policyError(() => validateFilterPolicy(policy, 'MessageAttributes')).path).toBe('$["$or"][1].b');
  });

  describe('limits', () => {
    it(`allows ${FILTER_POLICY_LIMITS.maxKeys} keys and rejects a sixth`, () => {
      const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, ['v']]));
      expect(() => validateFilterPolicy(keys(5), 'MessageAttributes')).not.toThrow();
      const error = policyError(() => validateFilterPolicy(keys(6), 'MessageAttributes'));
      expect(error.message).toMatch(/6 keys \(key0, key1, key2, key3, key4, key5\) where SNS allows 5/);
    });

    it('counts only top-level keys of a body policy', () => {
      const policy = { detail: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`key${i}`, ['v']])) };
      expect(() => validateFilterPolicy(policy, 'MessageBody')).not.toThrow();
    });

    it('counts the keys of each $or alternative', () => {
      const policy = { a: ['1'], b: ['1'], c: ['1'], d: ['1'], $or: [{ e: ['1'] }, { f: ['1'], g: ['1'] }] };
      expect(policyError(() => validateFilterPolicy(policy, 'MessageAttributes')).message).toMatch(/6 keys/);
      const fits = { a: ['1'], b: ['1'], c: ['1'], $or: [{ e: ['1'] }, { f: ['1'], g: ['1'] }] };
      expect(() => validateFilterPolicy(fits, 'MessageAttributes')).not.toThrow();
    });

    it('allows 150 combinations and rejects 151', () => {
      const values = (n: number) => Array.from({ length: n }, (_, i) => `value${i}`);
      expect(() => validateFilterPolicy({ key: values(150) })).not.toThrow();
      expect(policyError(() => validateFilterPolicy({ key: values(151) })).message).toMatch(
        /151 value combinations where SNS allows 150/,
      );
      expect(() => validateFilterPolicy({ a: values(15), b: values(10) })).not.toThrow();
      expect(policyError(() => validateFilterPolicy({ a: values(100), b: values(51) })).message).toMatch(
        /5100/,
      );
    });

    it('weights nested body keys by their depth, as in the documented example (3 × 4 × 2 × 3 = 72)', () => {
      const documented = {
        key_a: { key_b: { key_c: ['value_one', 'value_two', 'value_three', 'value_four'] } },
        key_d: { key_e: ['value_one', 'value_two', 'value_three'] },
      };
      expect(() => validateFilterPolicy(documented, 'MessageBody')).not.toThrow();
      const withThirdKey = { ...documented, key_f: ['value_one', 'value_two', 'value_three'] };
      expect(policyError(() => validateFilterPolicy(withThirdKey, 'MessageBody')).message).toMatch(
        /216 value combinations/,
      );
    });

    it('sums the combinations of $or alternatives', () => {
      const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
      const policy = (spaceIds: number) => ({
        source: values(3),
        $or: [
          { metricName: values(6) },
          { metricType: values(4), $or: [{ metricId: [1, 2, 3, 4] }, { spaceId: values(spaceIds) }] },
        ],
      });
      // (3 × 6) + (3 × 4 × 4) + (3 × 4 × 7) = 150, and one more space id is 162.
      expect(() => validateFilterPolicy(policy(7), 'MessageAttributes')).not.toThrow();
      expect(policyError(() => validateFilterPolicy(policy(8), 'MessageAttributes')).message).toMatch(/162/);
    });

    it('counts nested $or in the body with depth weights (24 + 72 + 16 + 48 = 160)', () => {
      const policy = {
        $or: [{ metricName: ['a', 'b', 'c'] }, { namespace: ['x', 'y'] }],
        detail: { scope: ['Service', 'Test'], $or: [{ source: ['s'] }, { type: ['t1', 't2', 't3'] }] },
      };
      expect(policyError(() => validateFilterPolicy(policy, 'MessageBody')).message).toMatch(
        /160 value combinations/,
      );
    });

    it('rejects pathological nesting quickly instead of overflowing the stack', () => {
      let deep: Record<string, unknown> = { leaf: ['v'] };
      for (let i = 0; i < 5_000; i += 1) deep = { level: deep };
      expect(policyError(() => validateFilterPolicy(deep, 'MessageBody')).message).toMatch(
        /nesting depth 151/,
      );
    });

    it('rejects deeply nested $or quickly instead of overflowing the stack', () => {
      let deep: Record<string, unknown> = { leaf: ['v'] };
      for (let i = 0; i < 5_000; i += 1) deep = { $or: [deep, { other: ['v'] }] };
      expect(policyError(() => validateFilterPolicy(deep, 'MessageAttributes')).message).toMatch(
        /nesting depth 151/,
      );
    });

    it('stops expanding $or before the alternatives explode', () => {
      const branches = (n: number) => Array.from({ length: n }, (_, i) => ({ [`k${i}`]: ['v'] }));
      const policy = { $or: branches(13), a: { $or: branches(13) } };
      expect(policyError(() => validateFilterPolicy(policy, 'MessageBody')).message).toMatch(/too complex/);
    });
  });
});

describe('mergeTargeting', () => {
  const scopes: readonly FilterPolicyScope[] = ['MessageAttributes', 'MessageBody'];

  it.each(scopes)('targets only the plugin when it has no policy of its own (%s)', (scope) => {
    expect(mergeTargeting(undefined, scope, 'alpha')).toEqual({ plugins: ['alpha'] });
  });

  it('adds the plugins attribute beside the plugin policy in attribute scope', () => {
    const merged = mergeTargeting({ region: ['eu'] }, 'MessageAttributes', 'alpha');
    expect(merged).toEqual({ plugins: ['alpha'], region: ['eu'] });
    expect(attributesMatch(merged, { plugins: list(['alpha', 'beta']), region: str('eu') })).toBe(true);
    expect(attributesMatch(merged, { plugins: list(['beta']), region: str('eu') })).toBe(false);
    expect(attributesMatch(merged, { plugins: list(['alpha']), region: str('us') })).toBe(false);
  });

  it('targets the plugins array of the plugin message body in body scope', () => {
    const merged = mergeTargeting({ metadata: { region: ['eu'] } }, 'MessageBody', 'alpha');
    const message = (plugins: string[], region: string) => ({
      kind: 'plugin-task',
      plugins,
      metadata: { region },
    });
    expect(bodyMatches(merged, message(['alpha', 'beta'], 'eu'))).toBe(true);
    expect(bodyMatches(merged, message(['beta'], 'eu'))).toBe(false);
    expect(bodyMatches(merged, message(['alpha'], 'us'))).toBe(false);
  });

  it('keeps a top-level $or meaning the same, restricted to publishes that target the plugin', () => {
    const own: FilterPolicy = { $or: [{ tier: ['gold'] }, { amount: [{ numeric: ['>', 100] }] }] };
    const merged = mergeTargeting(own, 'MessageAttributes', 'alpha');
    const cases: [Record<string, SnsMessageAttribute>, boolean][] = [
      [{ plugins: list(['alpha']), tier: str('gold') }, true],
      [{ plugins: list(['alpha']), amount: num('150') }, true],
      [{ plugins: list(['alpha']), tier: str('silver'), amount: num('5') }, false],
      [{ plugins: list(['beta']), tier: str('gold') }, false],
    ];
    for (const [attributes, expected] of cases) {
      expect(attributesMatch(merged, attributes)).toBe(expected);
      expect(attributesMatch(own, attributes) && attributesMatch({ plugins: ['alpha'] }, attributes)).toBe(
        expected,
      );
    }
  });

  it('accepts a registration policy as stored (an unvalidated record) and validates it', () => {
    const stored: Record<string, unknown> = { region: ['eu'] };
    expect(mergeTargeting(stored, 'MessageAttributes', 'alpha')).toEqual({
      plugins: ['alpha'],
      region: ['eu'],
    });
    const broken: Record<string, unknown> = { region: 'eu' };
    expect(policyError(() => mergeTargeting(broken, 'MessageAttributes', 'alpha')).path).toBe('$.region');
  });

  it.each<[string, Record<string, unknown>, FilterPolicyScope]>([
    ['a plugins key of its own', { plugins: ['beta'] }, 'MessageAttributes'],
    [
      'a plugins key inside an $or branch',
      { $or: [{ a: ['1'] }, { plugins: ['beta'] }] },
      'MessageAttributes',
    ],
    ['a nested plugins object in the body', { plugins: { name: ['beta'] } }, 'MessageBody'],
    ['a dotted plugins path in the body', { 'plugins.name': ['beta'] }, 'MessageBody'],
  ])('refuses a plugin policy with %s, because Plugboard owns that key', (_label, policy, scope) => {
    const error = policyError(() => mergeTargeting(policy, scope, 'alpha'));
    expect(error.message).toMatch(/"plugins" is reserved/);
  });

  it('lets an attribute policy use a dotted attribute name that merely starts with "plugins."', () => {
    expect(mergeTargeting({ 'plugins.region': ['eu'] }, 'MessageAttributes', 'alpha')).toEqual({
      plugins: ['alpha'],
      'plugins.region': ['eu'],
    });
  });

  it('leaves room for the targeting key: four keys fit, five do not', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, ['v']]));
    expect(Object.keys(mergeTargeting(keys(4), 'MessageAttributes', 'alpha'))).toHaveLength(5);
    const error = policyError(() => mergeTargeting(keys(5), 'MessageAttributes', 'alpha'));
    expect(error.message).toMatch(/with Plugboard's "plugins" key added, 6 keys/);
    expect(error.message).toMatch(/at most 4 keys/);
    expect(error.cause).toBeInstanceOf(FilterPolicyError);
  });

  it('does not change the combination count of the plugin policy', () => {
    const values = Array.from({ length: 150 }, (_, i) => `v${i}`);
    expect(() => mergeTargeting({ key: values }, 'MessageAttributes', 'alpha')).not.toThrow();
  });

  it('refuses an empty plugin name', () => {
    expect(policyError(() => mergeTargeting(undefined, 'MessageAttributes', '')).path).toBe('$.plugins');
  });
});
