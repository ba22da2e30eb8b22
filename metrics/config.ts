/**
 * Configuration of the liveness function, read once from the environment the metrics stack sets,
 * typed, and failing fast with the name of the missing or malformed variable.
 */
import { MetricsConfigurationError } from './errors.js';
import { DEFAULT_INACTIVE_MINUTES, DEFAULT_STUCK_MINUTES, METRICS_ENV } from './names.js';

export interface LivenessThresholds {
  /** Minutes without progress after which an active run counts as inactive. */
  readonly inactiveMinutes: number;
  /** Minutes without progress after which an active run counts as stuck (and alerts). */
  readonly stuckMinutes: number;
}

export interface MetricsConfig extends LivenessThresholds {
  readonly tableName: string;
  readonly deploymentStage: string;
  /** Every configured workflow: each gets a data point every run, zeros included. */
  readonly workflows: readonly string[];
  readonly alertsTopicArn: string;
  /** Lines a stuck-run alert adds about where to look (dashboard, Logs Insights); none when unset. */
  readonly whereToLook?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

export function readMetricsConfig(env: Env = process.env): MetricsConfig {
  const inactiveMinutes = wholeMinutes(env, METRICS_ENV.inactiveMinutes, DEFAULT_INACTIVE_MINUTES);
  const stuckMinutes = wholeMinutes(env, METRICS_ENV.stuckMinutes, DEFAULT_STUCK_MINUTES);
  if (stuckMinutes <= inactiveMinutes) {
    throw new MetricsConfigurationError(
      METRICS_ENV.stuckMinutes,
      `is ${stuckMinutes} but must be greater than ${METRICS_ENV.inactiveMinutes} (${inactiveMinutes})`,
    );
  }
  return {
    tableName: required(env, METRICS_ENV.tableName),
    deploymentStage: required(env, METRICS_ENV.deploymentStage),
    workflows: workflowList(env),
    alertsTopicArn: required(env, METRICS_ENV.alertsTopicArn),
    ...(env[METRICS_ENV.whereToLook]?.trim() ? { whereToLook: env[METRICS_ENV.whereToLook]?.trim() } : {}),
    inactiveMinutes,
    stuckMinutes,
  };
}

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new MetricsConfigurationError(name, 'is not set');
  return value;
}

function wholeMinutes(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new MetricsConfigurationError(
      name,
      `is "${raw}" but must be a whole number of minutes, at least 1`,
    );
  }
  return value;
}

function workflowList(env: Env): readonly string[] {
  const raw = required(env, METRICS_ENV.workflows);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new MetricsConfigurationError(
      METRICS_ENV.workflows,
      `is not JSON (got ${JSON.stringify(raw.slice(0, 60))})`,
    );
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length === 0 ||
    !parsed.every((name): name is string => typeof name === 'string' && name.length > 0)
  ) {
    throw new MetricsConfigurationError(
      METRICS_ENV.workflows,
      'must be a JSON array of one or more workflow names, e.g. ["order"]',
    );
  }
  return [...new Set(parsed)];
}
