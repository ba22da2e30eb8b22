/**
 * One logger and one metrics instance per handler module (Powertools), and the bridge that turns the
 * engine's observations into structured logs and EMF metrics. Metric names live in metric-names.ts
 * (no Powertools import, so the dashboard and the CLI read them cheaply); dimensions live here.
 * X-Ray annotations are tracing.ts's (only the functions that work on runs load the X-Ray SDK).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { EngineObserver } from '../engine/deps.js';
import { METRIC_NAMES, METRICS_NAMESPACE } from './metric-names.js';

export { METRIC_NAMES, METRICS_NAMESPACE } from './metric-names.js';

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly observer: EngineObserver;
}

export function createObservability(service: string, deploymentStage: string): Observability {
  const logger = new Logger({ serviceName: service, persistentKeys: { deploymentStage } });
  // One `service` dimension for every handler (POWERTOOLS_SERVICE_NAME, set by the constructs), so a
  // workflow's runs-started and runs-failed are one series each, whichever handler emits them.
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'plugboard',
    defaultDimensions: { deploymentStage },
  });
  const emit = (
    name: string,
    unit: (typeof MetricUnit)[keyof typeof MetricUnit],
    value: number,
    dimensions: Record<string, string>,
  ) => {
    const single = metrics.singleMetric();
    single.addDimensions(dimensions);
    single.addMetric(name, unit, value);
  };
  const observer: EngineObserver = {
    runStarted: ({ workflow, uid, rerun }) => {
      logger.info('run started', { workflow, uid, rerun });
      emit(METRIC_NAMES.runsStarted, MetricUnit.Count, 1, { workflow });
    },
    runEnded: ({ workflow, uid, state, durationMs }) => {
      logger.info('run ended', { workflow, uid, state, durationMs });
      const name =
        state === 'Complete'
          ? METRIC_NAMES.runsCompleted
          : state === 'Cancelled'
            ? METRIC_NAMES.runsCancelled
            : METRIC_NAMES.runsFailed;
      emit(name, MetricUnit.Count, 1, { workflow });
      emit(METRIC_NAMES.runDuration, MetricUnit.Milliseconds, durationMs, { workflow });
    },
    stageCompleted: ({ workflow, activity, stage, durationMs }) => {
      emit(METRIC_NAMES.stageDuration, MetricUnit.Milliseconds, durationMs, { workflow, activity, stage });
    },
    stageOverhead: ({ workflow, activity, stage, overheadMs }) => {
      emit(METRIC_NAMES.stageOverhead, MetricUnit.Milliseconds, overheadMs, { workflow, activity, stage });
    },
    pluginFinished: ({ workflow, activity, stage, plugin, state, durationMs }) => {
      if (durationMs !== undefined) {
        emit(METRIC_NAMES.pluginDuration, MetricUnit.Milliseconds, durationMs, { activity, stage, plugin });
      }
      if (state === 'Error')
        emit(METRIC_NAMES.pluginErrors, MetricUnit.Count, 1, { activity, stage, plugin });
      if (state === 'Timed Out')
        emit(METRIC_NAMES.pluginTimeouts, MetricUnit.Count, 1, { activity, stage, plugin });
      if (state !== 'Complete') logger.warn('plugin failed', { workflow, activity, stage, plugin, state });
    },
    pluginRetried: ({ workflow, activity, stage, plugin, attempt, reason }) => {
      logger.info('plugin retry scheduled', { workflow, activity, stage, plugin, attempt, reason });
      emit(METRIC_NAMES.pluginRetries, MetricUnit.Count, 1, { activity, stage, plugin });
    },
    lateReport: ({ workflow, uid, activity, stage, plugin, reason }) => {
      logger.info('late report recorded', { workflow, uid, activity, stage, plugin, reason });
      emit(METRIC_NAMES.lateReports, MetricUnit.Count, 1, { activity, stage });
    },
    note: (message, detail) => logger.info(message, detail),
  };
  return { logger, metrics, observer };
}
