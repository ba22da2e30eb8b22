import { describe, expect, it } from 'vitest';
import {
  activitySettings,
  DEFAULT_ACTIVITY_SETTINGS,
  nextStage,
  retryDelaySeconds,
} from '../../../lambdas/engine/config.js';
import { inboxUrl, topicArn } from '../../support/engine-harness.js';

describe('engine configuration', () => {
  it('orders the stages pre → parallel → post within an activity, then the next activity', () => {
    const activities = ['intake', 'assess'];

    expect(nextStage(activities, 'intake', 'pre')).toEqual({ activity: 'intake', stage: 'parallel' });
    expect(nextStage(activities, 'intake', 'parallel')).toEqual({ activity: 'intake', stage: 'post' });
    expect(nextStage(activities, 'intake', 'post')).toEqual({ activity: 'assess', stage: 'pre' });
    expect(nextStage(activities, 'assess', 'post')).toBeUndefined();
  });

  it('delays retry n by base × 2^(n−1) seconds, at most 900', () => {
    const settings = { ...DEFAULT_ACTIVITY_SETTINGS, retryBaseSeconds: 3 };

    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((attempt) => retryDelaySeconds(settings, attempt));

    expect(delays).toEqual([3, 6, 12, 24, 48, 96, 192, 384, 768]);
    expect(retryDelaySeconds(settings, 10)).toBe(900);
  });

  it('falls back to the default settings for an activity without its own', () => {
    const config = { workflows: {}, activities: {}, inboxUrl, topicArn };

    expect(activitySettings(config, 'unknown')).toEqual(DEFAULT_ACTIVITY_SETTINGS);
  });
});
