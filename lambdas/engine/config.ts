import type { StageName } from '../contracts/index.js';

/** Per-activity defaults for the plugins of its stages. */
export interface ActivitySettings {
  readonly deadlineSeconds: number;
  readonly maxAttempts: number;
  /** First retry delay; doubles with every attempt (capped at SQS's 900 s). */
  readonly retryBaseSeconds: number;
}

/** What the engine knows about the deployment: workflows, activity defaults, and routing. */
export interface EngineConfig {
  /** Workflow name → its activities, in order. */
  readonly workflows: Readonly<Record<string, readonly string[]>>;
  readonly activities: Readonly<Record<string, ActivitySettings>>;
  /** Where plugins of a stage send their reports. */
  readonly inboxUrl: (activity: string, stage: StageName) => string;
  /** The topic a stage's dispatches are published to (any stage: the hand-off is inline). */
  readonly topicArn: (activity: string, stage: StageName) => string;
}

export const DEFAULT_ACTIVITY_SETTINGS: ActivitySettings = {
  deadlineSeconds: 300,
  maxAttempts: 3,
  retryBaseSeconds: 2,
};

export function activitySettings(config: EngineConfig, activity: string): ActivitySettings {
  return config.activities[activity] ?? DEFAULT_ACTIVITY_SETTINGS;
}

export const STAGE_ORDER: readonly StageName[] = ['pre', 'parallel', 'post'];

/** The stage that follows, in this activity or the next one; undefined at the end of the run. */
export function nextStage(
  activities: readonly string[],
  activity: string,
  stage: StageName,
): { activity: string; stage: StageName } | undefined {
  const stageIndex = STAGE_ORDER.indexOf(stage);
  const following = STAGE_ORDER[stageIndex + 1];
  if (following) return { activity, stage: following };
  const activityIndex = activities.indexOf(activity);
  const nextActivity = activityIndex >= 0 ? activities[activityIndex + 1] : undefined;
  return nextActivity ? { activity: nextActivity, stage: 'pre' } : undefined;
}

/** Exponential backoff for a retry after `attempt` failed: base × 2^(attempt−1), at most 900 s. */
export function retryDelaySeconds(settings: ActivitySettings, attempt: number): number {
  return Math.min(900, Math.round(settings.retryBaseSeconds * 2 ** Math.max(0, attempt - 1)));
}
