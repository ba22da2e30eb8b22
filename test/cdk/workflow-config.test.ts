import { describe, expect, it } from 'vitest';
import {
  MAX_RUNTIME_CONFIG_BYTES,
  parseWorkflowConfig,
  readDeploymentContext,
  runtimeConfigJson,
} from '../../lib/config/index.js';
import { ConfigValidationError } from '../../lib/errors.js';
import shippedConfig from '../../plugboard.config.js';
import { synthApp } from '../support/synth.js';

function validationError(run: () => unknown): ConfigValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigValidationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigValidationError, but nothing was thrown');
}

const DEV = { systemName: 'plugboard', stage: 'dev' } as const;

describe('workflow config', () => {
  it('accepts the shipped reference workflow and fills in every default', () => {
    const { config, warnings } = parseWorkflowConfig(shippedConfig, DEV);

    expect(config.workflows).toMatchObject([
      { name: 'order', activities: ['intake', 'fulfilment', 'notify'] },
    ]);
    // Its declared input steers the example plugins and gives the console's start form its fields.
    expect(Object.keys(config.workflows[0]?.input ?? {})).toEqual([
      'customer',
      'giftWrap',
      'failPayment',
      'hangCourier',
      'failReview',
    ]);
    expect(Object.keys(config.activities)).toEqual(['intake', 'fulfilment', 'notify']);
    expect(config.activities.intake).toMatchObject({
      deadlineSeconds: 300,
      maxAttempts: 3,
      retryBaseSeconds: 2,
    });
    expect(config.ephemeralStages).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('hands handlers a compact JSON of workflows and activity settings without descriptions', () => {
    const { config } = parseWorkflowConfig({
      workflows: [{ name: 'order', activities: ['intake', 'notify'] }],
      activities: { intake: { description: 'x', deadlineSeconds: 60 }, notify: { maxAttempts: 5 } },
    });

    expect(runtimeConfigJson(config)).toBe(
      '{"workflows":{"order":["intake","notify"]},"activities":{"intake":{"deadlineSeconds":60,"maxAttempts":3,"retryBaseSeconds":2},"notify":{"deadlineSeconds":300,"maxAttempts":5,"retryBaseSeconds":2}}}',
    );
  });

  it('lists every bad entry in one error, each with its path, value and fix', () => {
    const error = validationError(() =>
      parseWorkflowConfig({
        workflows: [
          { name: 'Order', activities: ['intake', 'missing', 'intake'] },
          { name: 'refund', activities: [] },
          { name: 'refund', activities: ['intake'], extra: true },
        ],
        activities: { intake: { deadlineSeconds: 0, maxAttempts: 2.5 }, Bad_Name: {} },
      }),
    );

    const byPath = Object.fromEntries(error.problems.map((p) => [p.path, p]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        'activities.Bad_Name',
        'activities.intake.deadlineSeconds',
        'activities.intake.maxAttempts',
        'workflows[0].activities[1]',
        'workflows[0].activities[2]',
        'workflows[0].name',
        'workflows[1].activities',
        'workflows[2].extra',
        'workflows[2].name',
      ].sort(),
    );
    expect(byPath['workflows[0].name']).toMatchObject({ value: 'Order' });
    expect(byPath['workflows[0].name']?.message).toContain('lower-case letter first');
    expect(byPath['workflows[0].activities[1]']?.message).toContain("add `'missing': {}` under `activities`");
    expect(byPath['workflows[0].activities[2]']?.message).toContain('listed twice');
    expect(byPath['workflows[2].name']?.message).toContain('duplicate workflow name');
    expect(byPath['activities.intake.deadlineSeconds']).toMatchObject({ value: 0 });
    expect(error.message).toMatch(
      /^Invalid Plugboard workflow config \(plugboard\.config\.ts\) \(9 problems\):/,
    );
    expect(error.message).toContain('workflows[0].name = "Order": is not a valid name');
  });

  it('rejects a config that is not an object with a message that shows the expected shape', () => {
    const error = validationError(() => parseWorkflowConfig('order'));

    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.message).toContain('{ workflows: [...], activities: {...} }');
  });

  it('warns about a declared activity no workflow uses, without failing', () => {
    const { warnings } = parseWorkflowConfig({
      workflows: [{ name: 'order', activities: ['intake'] }],
      activities: { intake: {}, spare: {} },
    });

    expect(warnings).toEqual([expect.objectContaining({ path: 'activities.spare', value: 'spare' })]);
  });

  it('fails when a generated queue name would exceed 80 characters for this system and stage', () => {
    const longName = `a${'b'.repeat(39)}`;
    const config = { workflows: [{ name: 'w', activities: [longName] }], activities: { [longName]: {} } };

    expect(() => parseWorkflowConfig(config, DEV)).not.toThrow();
    const error = validationError(() =>
      parseWorkflowConfig(config, { systemName: 'a-very-long-system', stage: 'production12' }),
    );
    expect(error.problems).toEqual([
      expect.objectContaining({ path: `activities.${longName}`, value: longName }),
    ]);
    expect(error.problems[0]?.message).toContain('SQS allows 80');
  });

  it(`fails when PLUGBOARD_CONFIG would exceed ${MAX_RUNTIME_CONFIG_BYTES} bytes`, () => {
    const names = Array.from({ length: 40 }, (_, i) => `activity-number-${String(i).padStart(2, '0')}`);
    const config = {
      workflows: [{ name: 'big', activities: names }],
      activities: Object.fromEntries(names.map((n) => [n, {}])),
    };

    const error = validationError(() => parseWorkflowConfig(config));
    expect(error.problems[0]?.message).toContain('PLUGBOARD_CONFIG');
  });

  it('defaults parallelBatching to no window and batches of 10, and keeps it out of PLUGBOARD_CONFIG', () => {
    const { config } = parseWorkflowConfig({
      workflows: [{ name: 'order', activities: ['intake', 'notify'] }],
      activities: { intake: { parallelBatching: { windowSeconds: 2, batchSize: 100 } }, notify: {} },
    });

    expect(config.activities.intake?.parallelBatching).toEqual({ windowSeconds: 2, batchSize: 100 });
    expect(config.activities.notify?.parallelBatching).toEqual({ windowSeconds: 0, batchSize: 10 });
    expect(runtimeConfigJson(config)).not.toContain('parallelBatching');
  });

  it('refuses a parallel batch size above 10 without a window of at least 1 s, naming the fix', () => {
    for (const parallelBatching of [{ windowSeconds: 0, batchSize: 100 }, { batchSize: 11 }]) {
      const error = validationError(() =>
        parseWorkflowConfig({
          workflows: [{ name: 'order', activities: ['intake'] }],
          activities: { intake: { parallelBatching } },
        }),
      );

      expect(error.problems).toEqual([
        expect.objectContaining({
          path: 'activities.intake.parallelBatching',
          value: expect.objectContaining(parallelBatching),
        }),
      ]);
      expect(error.problems[0]?.message).toContain('needs windowSeconds of at least 1');
      expect(error.problems[0]?.message).toContain('set windowSeconds: 1 or batchSize: 10');
    }
    expect(() =>
      parseWorkflowConfig({
        workflows: [{ name: 'order', activities: ['intake'] }],
        activities: { intake: { parallelBatching: { windowSeconds: 1, batchSize: 100 } } },
      }),
    ).not.toThrow();
  });

  it('fails synth with the config error when plugboard.config.ts is invalid', () => {
    const error = validationError(() =>
      synthApp({
        nag: false,
        config: { workflows: [{ name: 'order', activities: ['nope'] }], activities: {} },
      }),
    );

    expect(error.problems.map((p) => p.path)).toEqual(['workflows[0].activities[0]']);
  });
});

describe('deployment context', () => {
  const reader = (values: Record<string, unknown>) => (key: string) => values[key];

  it('defaults to stage dev and system plugboard', () => {
    expect(readDeploymentContext(reader({}))).toEqual({ systemName: 'plugboard', stage: 'dev' });
  });

  it('reads ephemeral given as the string the CDK CLI passes', () => {
    expect(readDeploymentContext(reader({ ephemeral: 'true' }))).toMatchObject({ ephemeral: true });
    expect(readDeploymentContext(reader({ ephemeral: 'false' }))).toMatchObject({ ephemeral: false });
  });

  it('lists every bad context value in one error', () => {
    const error = validationError(() =>
      readDeploymentContext(reader({ stage: 'Prod', systemName: '9lives', ephemeral: 'yes' })),
    );

    expect(error.problems.map((p) => [p.path, p.value])).toEqual([
      ['context.stage', 'Prod'],
      ['context.systemName', '9lives'],
      ['context.ephemeral', 'yes'],
    ]);
    expect(error.message).toContain('--context stage=dev');
  });

  it('rejects a stage longer than 12 characters', () => {
    expect(() => readDeploymentContext(reader({ stage: 'abcdefghijklm' }))).toThrow(ConfigValidationError);
    expect(readDeploymentContext(reader({ stage: 'abcdefghijkl' })).stage).toBe('abcdefghijkl');
  });
});
