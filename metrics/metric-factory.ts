/**
 * The one place that builds Plugboard's CloudWatch metric objects (cdk-monitoring-constructs style):
 * the liveness metrics the scheduled function puts, the engine's EMF metrics (`METRIC_NAMES`), SQS
 * dead-letter queue depth and Lambda errors/throttles. Dashboards and alarms ask the factory; nothing
 * else spells a namespace, metric name or dimension.
 */
import { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric, SearchExpression, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../lambdas/handlers/metric-names.js';
import { DIMENSIONS, LIVENESS_METRIC_NAMES } from './names.js';

export type EngineMetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

/** The percentiles the dashboard shows for durations. */
export type Percentile = 'p50' | 'p99';

export interface PlugboardMetricFactoryProps {
  /** The deployment stage: the `deploymentStage` dimension of every Plugboard metric. */
  readonly deploymentStage: string;
  /**
   * Value of the `service` dimension Powertools adds to every EMF metric the handlers emit (its
   * `serviceName`, i.e. `POWERTOOLS_SERVICE_NAME`). The metrics put by the liveness function have
   * no `service` dimension.
   * @default - the engine metrics are addressed without a `service` dimension
   */
  readonly emfService?: string;
  /**
   * Namespace of every Plugboard metric.
   * @default 'Plugboard' (METRICS_NAMESPACE of the handlers)
   */
  readonly namespace?: string;
  /**
   * Period of the metrics the factory builds unless a method takes another.
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
}

type Dimensions = Record<string, string>;

/** Quotes a value for a CloudWatch search expression (exact match; `"`, `\`, `(`, `)` escaped). */
function exact(value: string): string {
  return `"${value.replace(/["\\()]/g, (c) => `\\${c}`)}"`;
}

export class PlugboardMetricFactory {
  readonly namespace: string;
  readonly deploymentStage: string;
  readonly emfService: string | undefined;
  private readonly period: Duration;

  constructor(props: PlugboardMetricFactoryProps) {
    this.namespace = props.namespace ?? METRICS_NAMESPACE;
    this.deploymentStage = props.deploymentStage;
    this.emfService = props.emfService;
    this.period = props.period ?? Duration.minutes(1);
  }

  // ---- liveness (PutMetricData by the scheduled function) -------------------------------------

  /** Active runs; per workflow, or all workflows of the deployment when `workflow` is left out. */
  activeRuns(workflow?: string): Metric {
    return this.liveness(LIVENESS_METRIC_NAMES.active, workflow, 'Active runs');
  }

  /** Active runs without progress for the inactive threshold (but not yet stuck). */
  inactiveRuns(workflow?: string): Metric {
    return this.liveness(LIVENESS_METRIC_NAMES.inactive, workflow, 'Inactive runs');
  }

  /** Active runs without progress for the stuck threshold. */
  stuckRuns(workflow?: string): Metric {
    return this.liveness(LIVENESS_METRIC_NAMES.stuck, workflow, 'Stuck runs');
  }

  private liveness(metricName: string, workflow: string | undefined, label: string): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: {
        [DIMENSIONS.deploymentStage]: this.deploymentStage,
        ...(workflow === undefined ? {} : { [DIMENSIONS.workflow]: workflow }),
      },
      statistic: Stats.MAXIMUM,
      period: this.period,
      label: workflow ?? `${label} (all workflows)`,
    });
  }

  // ---- engine EMF metrics ---------------------------------------------------------------------

  /** Any EMF metric of the handlers by name and its own dimensions (besides deploymentStage/service). */
  engineMetric(
    metricName: EngineMetricName,
    dimensions: Dimensions,
    options: { readonly statistic?: string; readonly period?: Duration; readonly label?: string } = {},
  ): Metric {
    return new Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { ...this.emfDimensions(), ...dimensions },
      statistic: options.statistic ?? Stats.SUM,
      period: options.period ?? this.period,
      ...(options.label === undefined ? {} : { label: options.label }),
    });
  }

  runsStarted(workflow: string, period?: Duration): Metric {
    return this.perWorkflow(METRIC_NAMES.runsStarted, workflow, `${workflow} started`, period);
  }

  runsCompleted(workflow: string, period?: Duration): Metric {
    return this.perWorkflow(METRIC_NAMES.runsCompleted, workflow, `${workflow} completed`, period);
  }

  runsFailed(workflow: string, period?: Duration): Metric {
    return this.perWorkflow(METRIC_NAMES.runsFailed, workflow, `${workflow} failed`, period);
  }

  runsCancelled(workflow: string, period?: Duration): Metric {
    return this.perWorkflow(METRIC_NAMES.runsCancelled, workflow, `${workflow} cancelled`, period);
  }

  /** End-to-end run duration (ms) of one workflow at a percentile. */
  runDuration(workflow: string, percentile: Percentile, period?: Duration): Metric {
    return this.engineMetric(
      METRIC_NAMES.runDuration,
      { [DIMENSIONS.workflow]: workflow },
      { statistic: percentile, label: `${workflow} ${percentile}`, ...(period ? { period } : {}) },
    );
  }

  /**
   * Failed runs as a percentage of started runs over `period` (default 5 minutes). With failures
   * but no starts in the window the rate is 100; with neither it is 0.
   */
  failureRatePercent(workflow: string, period: Duration = Duration.minutes(5)): MathExpression {
    // Ids are unique per workflow, so several workflows' rates can share one graph.
    const id = workflow.replace(/[^A-Za-z0-9]/g, '_');
    const failed = `failed_${id}`;
    const started = `started_${id}`;
    return new MathExpression({
      expression: `IF(FILL(${started}, 0) > 0, 100 * FILL(${failed}, 0) / FILL(${started}, 0), IF(FILL(${failed}, 0) > 0, 100, 0))`,
      usingMetrics: {
        [failed]: this.runsFailed(workflow, period),
        [started]: this.runsStarted(workflow, period),
      },
      period,
      label: `${workflow} failure rate (%)`,
    });
  }

  /** Stage durations (ms) of every workflow, activity and stage, one line each (dashboard only). */
  searchStageDurations(percentile: Percentile, period?: Duration): SearchExpression {
    return this.searchEngine(
      METRIC_NAMES.stageDuration,
      [DIMENSIONS.workflow, DIMENSIONS.activity, DIMENSIONS.stage],
      percentile,
      `${percentile} `,
      period,
    );
  }

  /** Orchestration overhead (ms) per stage: stage duration minus plugin time (dashboard only). */
  searchStageOverhead(percentile: Percentile, period?: Duration): SearchExpression {
    return this.searchEngine(
      METRIC_NAMES.stageOverhead,
      [DIMENSIONS.workflow, DIMENSIONS.activity, DIMENSIONS.stage],
      percentile,
      `${percentile} `,
      period,
    );
  }

  /** Plugin errors per activity, stage and plugin (dashboard only: plugins register at runtime). */
  searchPluginErrors(period?: Duration): SearchExpression {
    return this.searchEngine(
      METRIC_NAMES.pluginErrors,
      [DIMENSIONS.activity, DIMENSIONS.stage, DIMENSIONS.plugin],
      Stats.SUM,
      '',
      period,
    );
  }

  /** Plugin timeouts per activity, stage and plugin (dashboard only). */
  searchPluginTimeouts(period?: Duration): SearchExpression {
    return this.searchEngine(
      METRIC_NAMES.pluginTimeouts,
      [DIMENSIONS.activity, DIMENSIONS.stage, DIMENSIONS.plugin],
      Stats.SUM,
      '',
      period,
    );
  }

  /** Plugin retries per activity, stage and plugin (dashboard only). */
  searchPluginRetries(period?: Duration): SearchExpression {
    return this.searchEngine(
      METRIC_NAMES.pluginRetries,
      [DIMENSIONS.activity, DIMENSIONS.stage, DIMENSIONS.plugin],
      Stats.SUM,
      '',
      period,
    );
  }

  /**
   * The `top` plugins with the highest duration at `percentile` (ms), one line each, slowest first:
   * the plugin duration search sorted by its maximum (dashboard only).
   */
  slowestPlugins(percentile: Percentile, top = 10, period?: Duration): MathExpression {
    const search = this.searchEngine(
      METRIC_NAMES.pluginDuration,
      [DIMENSIONS.activity, DIMENSIONS.stage, DIMENSIONS.plugin],
      percentile,
      `${percentile} `,
      period,
    );
    return new MathExpression({
      expression: `SORT(${search.expression}, MAX, DESC, ${top})`,
      usingMetrics: {},
      label: search.label ?? '',
      period: search.period,
    });
  }

  /** Failed runs of every listed workflow over `period` (default 1 hour), summed: one number. */
  failedRunsTotal(workflows: readonly string[], period: Duration = Duration.hours(1)): MathExpression {
    const usingMetrics = Object.fromEntries(
      workflows.map((w, i) => [`failed${i}`, this.runsFailed(w, period)]),
    );
    return new MathExpression({
      expression: workflows.length > 0 ? workflows.map((_, i) => `FILL(failed${i}, 0)`).join(' + ') : '0',
      usingMetrics,
      period,
      label: `Runs failed (last ${period.toHumanString()})`,
    });
  }

  // ---- AWS service metrics --------------------------------------------------------------------

  /** Messages in every listed dead-letter queue, summed (the maximum of each over the period). */
  deadLetteredTotal(queueNames: readonly string[], period?: Duration): MathExpression {
    const usingMetrics = Object.fromEntries(
      queueNames.map((q, i) => [`dlq${i}`, this.deadLetterQueueDepth(q, period)]),
    );
    return new MathExpression({
      expression: queueNames.length > 0 ? queueNames.map((_, i) => `FILL(dlq${i}, 0)`).join(' + ') : '0',
      usingMetrics,
      period: period ?? Duration.minutes(5),
      label: 'Dead-lettered messages',
    });
  }

  /** Age (seconds) of the oldest message waiting in a queue: how far behind its consumer is. */
  queueBacklogAge(queueName: string, period?: Duration): Metric {
    return new Metric({
      namespace: 'AWS/SQS',
      metricName: 'ApproximateAgeOfOldestMessage',
      dimensionsMap: { QueueName: queueName },
      statistic: Stats.MAXIMUM,
      period: period ?? Duration.minutes(1),
      label: queueName,
    });
  }

  /** A DynamoDB table metric summed over the period (throttle events, consumed capacity units). */
  table(
    metricName:
      | 'ReadThrottleEvents'
      | 'WriteThrottleEvents'
      | 'ConsumedReadCapacityUnits'
      | 'ConsumedWriteCapacityUnits',
    tableName: string,
    period?: Duration,
  ): Metric {
    return new Metric({
      namespace: 'AWS/DynamoDB',
      metricName,
      dimensionsMap: { TableName: tableName },
      statistic: Stats.SUM,
      period: period ?? Duration.minutes(1),
      label: metricName,
    });
  }

  /** Messages waiting in a dead-letter queue (maximum over the period). */
  deadLetterQueueDepth(queueName: string, period?: Duration): Metric {
    return new Metric({
      namespace: 'AWS/SQS',
      metricName: 'ApproximateNumberOfMessagesVisible',
      dimensionsMap: { QueueName: queueName },
      statistic: Stats.MAXIMUM,
      period: period ?? Duration.minutes(5),
      label: queueName,
    });
  }

  lambdaErrors(functionName: string, period?: Duration): Metric {
    return this.lambda('Errors', functionName, period);
  }

  lambdaThrottles(functionName: string, period?: Duration): Metric {
    return this.lambda('Throttles', functionName, period);
  }

  /**
   * Errors or throttles of every function whose name contains `namePart` as consecutive tokens (a
   * CloudWatch partial match), e.g. `plugboard-dev` for the functions CloudFormation named after the
   * `plugboard-dev-*` stacks. Dashboard only.
   */
  searchLambda(
    metricName: 'Errors' | 'Throttles' | 'Duration',
    namePart: string,
    period?: Duration,
  ): SearchExpression {
    const p = period ?? Duration.minutes(5);
    // Durations are samples: their p99; errors and throttles are counts.
    const statistic = metricName === 'Duration' ? 'p99' : 'Sum';
    return new SearchExpression({
      expression: `SEARCH('{AWS/Lambda,FunctionName} MetricName=${exact(metricName)} FunctionName=${namePart}', '${statistic}', ${p.toSeconds()})`,
      label: metricName === 'Duration' ? `p99 \${PROP('Dim.FunctionName')}` : '',
      period: p,
    });
  }

  private lambda(metricName: string, functionName: string, period?: Duration): Metric {
    return new Metric({
      namespace: 'AWS/Lambda',
      metricName,
      dimensionsMap: { FunctionName: functionName },
      statistic: Stats.SUM,
      period: period ?? Duration.minutes(5),
      label: functionName,
    });
  }

  private perWorkflow(
    metricName: EngineMetricName,
    workflow: string,
    label: string,
    period?: Duration,
  ): Metric {
    return this.engineMetric(
      metricName,
      { [DIMENSIONS.workflow]: workflow },
      { label, ...(period ? { period } : {}) },
    );
  }

  private emfDimensions(): Dimensions {
    return {
      [DIMENSIONS.deploymentStage]: this.deploymentStage,
      ...(this.emfService === undefined ? {} : { [DIMENSIONS.service]: this.emfService }),
    };
  }

  /**
   * A search over one EMF metric with the given per-metric dimensions; `service` is in the schema when
   * the handlers' metrics carry it, and only `deploymentStage` is matched, so any service value shows.
   */
  private searchEngine(
    metricName: EngineMetricName,
    dimensions: readonly string[],
    statistic: string,
    labelPrefix: string,
    period?: Duration,
  ): SearchExpression {
    const p = period ?? Duration.minutes(5);
    const schema = [
      this.namespace,
      DIMENSIONS.deploymentStage,
      ...(this.emfService === undefined ? [] : [DIMENSIONS.service]),
      ...dimensions,
    ].join(',');
    const term = `MetricName=${exact(metricName)} ${DIMENSIONS.deploymentStage}=${exact(this.deploymentStage)}`;
    return new SearchExpression({
      expression: `SEARCH('{${schema}} ${term}', '${statistic}', ${p.toSeconds()})`,
      // Dynamic label: one line per dimension combination, named by its dimension values.
      label: `${labelPrefix}${dimensions.map((d) => `\${PROP('Dim.${d}')}`).join('/')}`,
      period: p,
    });
  }
}
