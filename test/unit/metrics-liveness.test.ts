/**
 * Pure rules of the metrics component: progress and classification, data points, alert text, the
 * run-item parser, and the configuration read from the environment.
 */
import { describe, expect, it } from 'vitest';
import { readMetricsConfig } from '../../metrics/config.js';
import { toActiveRun } from '../../metrics/dynamo-run-reader.js';
import { MetricsConfigurationError, UnreadableRunError } from '../../metrics/errors.js';
import { chunk, classifyRun, livenessDatums, progressOf, stuckRunAlert } from '../../metrics/liveness.js';
import { inboxDeadLetterQueueNames } from '../../metrics/names.js';

const thresholds = { inactiveMinutes: 10, stuckMinutes: 20 };
const run = { workflow: 'orders', uid: 'o-1', updatedAt: '2026-11-23T10:00:00.000Z' };

describe('progress and classification', () => {
  it('takes the later of the run and stage timestamps as progress', () => {
    expect(progressOf('2026-11-23T10:00:00.000Z', '2026-11-23T10:05:00.000Z')).toBe(
      '2026-11-23T10:05:00.000Z',
    );
    expect(progressOf('2026-11-23T10:05:00.000Z', '2026-11-23T10:00:00.000Z')).toBe(
      '2026-11-23T10:05:00.000Z',
    );
  });

  it('falls back to the run timestamp when the stage item is missing or unreadable', () => {
    expect(progressOf(run.updatedAt, undefined)).toBe(run.updatedAt);
    expect(progressOf(run.updatedAt, 'not a time')).toBe(run.updatedAt);
  });

  it('rounds minutes without progress down and never reports negative idle time', () => {
    expect(classifyRun(run, undefined, new Date('2026-11-23T10:20:59.999Z'), thresholds)).toMatchObject({
      liveness: 'stuck',
      minutesWithoutProgress: 20,
    });
    expect(classifyRun(run, undefined, new Date('2026-11-23T09:59:00.000Z'), thresholds)).toMatchObject({
      liveness: 'progressing',
      minutesWithoutProgress: 0,
    });
  });
});

describe('data points', () => {
  it('emits three datums per workflow plus three deployment-wide totals', () => {
    const datums = livenessDatums('prod', [
      { workflow: 'a', active: 3, inactive: 1, stuck: 1 },
      { workflow: 'b', active: 2, inactive: 0, stuck: 2 },
    ]);

    expect(datums).toHaveLength(9);
    expect(datums.slice(-3)).toEqual([
      { metricName: 'ActiveWorkflows', dimensions: [{ name: 'deploymentStage', value: 'prod' }], value: 5 },
      { metricName: 'InactiveWorkflows', dimensions: [{ name: 'deploymentStage', value: 'prod' }], value: 1 },
      { metricName: 'StuckWorkflows', dimensions: [{ name: 'deploymentStage', value: 'prod' }], value: 3 },
    ]);
  });

  it('chunks into pieces of at most the given size and refuses a size below one', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], 3)).toEqual([]);
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });
});

describe('stuck-run alert', () => {
  it('keeps the SNS subject printable ASCII and within 100 characters', () => {
    const longUid = `ü-${'x'.repeat(150)}`;
    const alert = stuckRunAlert(
      classifyRun({ ...run, uid: longUid }, undefined, new Date('2026-11-23T11:00:00.000Z'), thresholds),
      { deploymentStage: 'dev', stuckMinutes: 20 },
    );

    expect(alert.subject.length).toBeLessThanOrEqual(100);
    expect(alert.subject).toMatch(/^[\x20-\x7e]+$/);
    expect(alert.subject.endsWith('...')).toBe(true);
    expect(alert.message).toContain(`npx plugboard --stage dev status orders ${longUid}`);
  });

  it('says where else to look, with the uid in the saved query, when configured', () => {
    const alert = stuckRunAlert(
      classifyRun(run, undefined, new Date('2026-11-23T11:00:00.000Z'), thresholds),
      {
        deploymentStage: 'dev',
        stuckMinutes: 20,
        whereToLook:
          'Dashboard: https://example/d\nLogs: saved query "plugboard-dev/one run by uid" with {uid}',
      },
    );

    expect(alert.message).toContain('npx plugboard --stage dev status orders o-1');
    expect(alert.message).toContain('Dashboard: https://example/d');
    expect(alert.message).toContain('saved query "plugboard-dev/one run by uid" with o-1');
  });

  it('says "not started yet" for a run without a position', () => {
    const alert = stuckRunAlert(
      classifyRun(run, undefined, new Date('2026-11-23T11:00:00.000Z'), thresholds),
      {
        deploymentStage: 'dev',
        stuckMinutes: 20,
      },
    );

    expect(alert.message).toContain('position:         not started yet');
    expect(alert.message).toContain('no progress for 60 minutes (stuck after 20)');
  });
});

describe('run item parser', () => {
  it('reads the projected attributes of an active run', () => {
    expect(
      toActiveRun({
        pk: 'RUN#orders#o-1',
        workflow: 'orders',
        uid: 'o-1',
        createdAt: '2026-11-23T09:00:00.000Z',
        updatedAt: '2026-11-23T10:00:00.000Z',
        position: { activity: 'check', stage: 'pre' },
        stuckAlertedProgress: '2026-11-23T09:30:00.000Z',
      }),
    ).toEqual({
      workflow: 'orders',
      uid: 'o-1',
      createdAt: '2026-11-23T09:00:00.000Z',
      updatedAt: '2026-11-23T10:00:00.000Z',
      position: { activity: 'check', stage: 'pre' },
      alertedProgress: '2026-11-23T09:30:00.000Z',
    });
  });

  it.each([
    [{ pk: 'RUN#x#1', uid: '1', updatedAt: '2026-11-23T10:00:00.000Z' }, /workflow/],
    [{ pk: 'RUN#x#1', workflow: 'x', uid: '1', updatedAt: 17 }, /updatedAt/],
    [
      { pk: 'RUN#x#1', workflow: 'x', uid: '1', updatedAt: '2026-11-23T10:00:00.000Z', position: 'pre' },
      /position/,
    ],
  ])('returns an UnreadableRunError naming the item for %j', (item, message) => {
    const result = toActiveRun(item);

    expect(result).toBeInstanceOf(UnreadableRunError);
    expect(result).toMatchObject({ pk: 'RUN#x#1', message: expect.stringMatching(message) });
  });
});

describe('configuration', () => {
  const env = {
    PLUGBOARD_TABLE_NAME: 'status',
    PLUGBOARD_DEPLOYMENT_STAGE: 'dev',
    PLUGBOARD_WORKFLOWS: '["orders","refunds","orders"]',
    PLUGBOARD_ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:1:alerts',
  };

  it('reads the environment once into a typed config with the Overseer defaults (10 and 20 minutes)', () => {
    expect(readMetricsConfig(env)).toEqual({
      tableName: 'status',
      deploymentStage: 'dev',
      workflows: ['orders', 'refunds'],
      alertsTopicArn: 'arn:aws:sns:us-east-1:1:alerts',
      inactiveMinutes: 10,
      stuckMinutes: 20,
    });
  });

  it.each([
    'PLUGBOARD_TABLE_NAME',
    'PLUGBOARD_DEPLOYMENT_STAGE',
    'PLUGBOARD_WORKFLOWS',
    'PLUGBOARD_ALERTS_TOPIC_ARN',
  ])('fails fast naming %s when it is missing', (name) => {
    const partial: Record<string, string> = { ...env };
    delete partial[name];

    expect(() => readMetricsConfig(partial)).toThrow(MetricsConfigurationError);
    expect(() => readMetricsConfig(partial)).toThrow(new RegExp(`^${name} is not set`));
  });

  it.each([
    [{ PLUGBOARD_WORKFLOWS: 'orders' }, /PLUGBOARD_WORKFLOWS is not JSON/],
    [{ PLUGBOARD_WORKFLOWS: '[]' }, /PLUGBOARD_WORKFLOWS must be a JSON array/],
    [{ PLUGBOARD_INACTIVE_MINUTES: '2.5' }, /PLUGBOARD_INACTIVE_MINUTES is "2.5"/],
    [{ PLUGBOARD_STUCK_MINUTES: '0' }, /PLUGBOARD_STUCK_MINUTES is "0"/],
    [{ PLUGBOARD_INACTIVE_MINUTES: '30' }, /PLUGBOARD_STUCK_MINUTES is 20 but must be greater/],
  ])('refuses %j', (override, message) => {
    expect(() => readMetricsConfig({ ...env, ...override })).toThrow(message);
  });
});

describe('naming conventions', () => {
  it('derives the three inbox dead-letter queues of every activity', () => {
    expect(inboxDeadLetterQueueNames({ systemName: 'plugboard', stage: 'dev' }, ['check'])).toEqual([
      'plugboard-dev-check-pre-inbox-dlq',
      'plugboard-dev-check-parallel-inbox-dlq',
      'plugboard-dev-check-post-inbox-dlq',
    ]);
  });
});
