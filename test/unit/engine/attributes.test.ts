import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../lambdas/contracts/index.js';
import { buildMessageAttributes, type DispatchTarget } from '../../../lambdas/engine/attributes.js';

const target = (metadata: Record<string, unknown>): DispatchTarget => ({
  workflow: 'reference',
  activity: 'intake',
  stage: 'parallel',
  plugins: ['a', 'b'],
  metadata,
});

describe('buildMessageAttributes', () => {
  it('always carries workflow, activity, stage and the targeted plugins as a String.Array', () => {
    const attributes = buildMessageAttributes(target({}));

    expect(attributes).toEqual({
      workflow: { DataType: 'String', StringValue: 'reference' },
      activity: { DataType: 'String', StringValue: 'intake' },
      stage: { DataType: 'String', StringValue: 'parallel' },
      plugins: { DataType: 'String.Array', StringValue: '["a","b"]' },
    });
  });

  it('promotes strings as String, finite numbers as Number and booleans as String', () => {
    const attributes = buildMessageAttributes(
      target({ channel: 'web', total: 42.5, vip: true, trial: false }),
    );

    expect(attributes.channel).toEqual({ DataType: 'String', StringValue: 'web' });
    expect(attributes.total).toEqual({ DataType: 'Number', StringValue: '42.5' });
    expect(attributes.vip).toEqual({ DataType: 'String', StringValue: 'true' });
    expect(attributes.trial).toEqual({ DataType: 'String', StringValue: 'false' });
  });

  it('promotes at most six scalar entries, the first ones in key order', () => {
    const metadata = { h: 8, g: 7, f: 6, e: 5, d: 4, c: 3, b: 2, a: 1 };

    const promoted = Object.keys(buildMessageAttributes(target(metadata))).filter((k) => k.length === 1);

    expect(LIMITS.metadataAttributes).toBe(6);
    expect(promoted.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('skips objects, arrays, null, empty or over-long strings and non-finite numbers without counting them', () => {
    const metadata = {
      a1: { nested: true },
      a2: ['x'],
      a3: null,
      a4: '',
      a5: 'x'.repeat(LIMITS.attributeValueChars + 1),
      a6: Number.POSITIVE_INFINITY,
      a7: Number.NaN,
      b1: 'x'.repeat(LIMITS.attributeValueChars),
      b2: 2,
      b3: 'three',
      b4: false,
      b5: 5,
      b6: 'six',
      b7: 'seven',
    };

    const attributes = buildMessageAttributes(target(metadata));

    const promoted = Object.keys(attributes).filter((k) => /^[ab]\d$/.test(k));
    expect(promoted.sort()).toEqual(['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    expect(Object.keys(attributes)).toHaveLength(10);
  });
});
