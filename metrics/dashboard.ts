/**
 * The CloudWatch dashboard of one Plugboard deployment, read top to bottom, most urgent first:
 * what it is and where to look (saved Logs Insights queries); the state of every alarm beside four
 * numbers (runs in flight, runs failed in the last hour, stuck runs, dead-lettered messages); the
 * plugins (slowest at p99, retries, timeouts); the plumbing (stage inbox backlog age, the
 * orchestrators' Lambda errors, throttles and duration, the status table's throttles and consumed
 * capacity); then the trends (liveness, throughput and failures, durations, plugin errors,
 * dead-letter queues). Every metric comes from the metric factory.
 */
import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  type CfnDashboard,
  Dashboard,
  GraphWidget,
  type IMetric,
  type IWidget,
  LegendPosition,
  SingleValueWidget,
  Stats,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import type { LivenessThresholds } from './config.js';
import type { PlugboardMetricFactory } from './metric-factory.js';
import { PANEL_TITLES } from './panels.js';

export interface PlugboardDashboardProps {
  readonly factory: PlugboardMetricFactory;
  /** Name of the dashboard in the console. */
  readonly dashboardName: string;
  readonly workflows: readonly string[];
  readonly deadLetterQueueNames: readonly string[];
  /** The stage inbox queues: the age of their oldest message shows a backlog. */
  readonly inboxQueueNames: readonly string[];
  /** The status table (its throttles and consumed capacity). */
  readonly tableName: string;
  /** Lambda functions graphed by name (errors and throttles). */
  readonly functionNames: readonly string[];
  /**
   * Also graph every function whose name contains these consecutive tokens (a search), e.g. the
   * `plugboard-dev` prefix CloudFormation gives the functions of the `plugboard-dev-*` stacks.
   * @default - only `functionNames` are graphed
   */
  readonly functionNamePart?: string;
  /** Alarms shown in the alarm status row. */
  readonly alarms: readonly Alarm[];
  /** The liveness thresholds, quoted in the widget titles. */
  readonly thresholds: LivenessThresholds;
  /** Markdown shown at the top (what this dashboard is). */
  readonly description: string;
}

const WIDTH = 24;
const HEIGHT = 6;

export class PlugboardDashboard extends Construct {
  readonly dashboard: Dashboard;
  /** The graph widgets by title, for tests and for adding metrics later. */
  readonly graphs: ReadonlyMap<string, GraphWidget>;

  constructor(scope: Construct, id: string, props: PlugboardDashboardProps) {
    super(scope, id);
    const { factory, workflows, thresholds } = props;
    const graphs = new Map<string, GraphWidget>();
    const graph = (
      title: string,
      left: readonly IMetric[],
      options: {
        readonly width?: number;
        readonly right?: readonly IMetric[];
        readonly stacked?: boolean;
      } = {},
    ): GraphWidget => {
      const widget = new GraphWidget({
        title,
        left: [...left],
        ...(options.right ? { right: [...options.right] } : {}),
        width: options.width ?? WIDTH / 3,
        height: HEIGHT,
        stacked: options.stacked ?? false,
        legendPosition: LegendPosition.BOTTOM,
        leftYAxis: { min: 0, showUnits: false },
        ...(options.right ? { rightYAxis: { min: 0, showUnits: false } } : {}),
      });
      graphs.set(title, widget);
      return widget;
    };
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);

    const lambdaSearch = (metricName: 'Errors' | 'Throttles' | 'Duration') =>
      props.functionNamePart ? [factory.searchLambda(metricName, props.functionNamePart)] : [];

    const rows: IWidget[][] = [
      [new TextWidget({ markdown: props.description, width: WIDTH, height: 3 })],
      [
        new AlarmStatusWidget({
          title: PANEL_TITLES.alarms,
          alarms: [...props.alarms],
          width: WIDTH / 2,
          height: Math.max(3, Math.ceil(props.alarms.length / 3) + 1),
        }),
        new SingleValueWidget({
          title: PANEL_TITLES.atAGlance,
          metrics: [
            factory.activeRuns().with({ label: 'Runs in flight' }),
            factory.failedRunsTotal(workflows, Duration.hours(1)),
            factory.stuckRuns().with({ label: 'Stuck runs' }),
            factory.deadLetteredTotal(props.deadLetterQueueNames),
          ],
          width: WIDTH / 2,
          height: Math.max(3, Math.ceil(props.alarms.length / 3) + 1),
        }),
      ],
      [
        graph(PANEL_TITLES.slowestPluginsP99, [factory.slowestPlugins('p99', 10, fiveMinutes)]),
        graph(PANEL_TITLES.pluginRetries, [factory.searchPluginRetries()]),
        graph(PANEL_TITLES.pluginTimeouts, [factory.searchPluginTimeouts()]),
      ],
      [
        graph(
          PANEL_TITLES.inboxBacklogAge,
          props.inboxQueueNames.map((q) => factory.queueBacklogAge(q)),
        ),
        graph(PANEL_TITLES.lambdaErrors, [
          ...props.functionNames.map((f) => factory.lambdaErrors(f)),
          ...lambdaSearch('Errors'),
        ]),
        graph(PANEL_TITLES.lambdaThrottles, [
          ...props.functionNames.map((f) => factory.lambdaThrottles(f)),
          ...lambdaSearch('Throttles'),
        ]),
      ],
      [
        graph(PANEL_TITLES.lambdaDuration, lambdaSearch('Duration')),
        graph(PANEL_TITLES.tableThrottles, [
          factory.table('ReadThrottleEvents', props.tableName),
          factory.table('WriteThrottleEvents', props.tableName),
        ]),
        graph(PANEL_TITLES.tableCapacity, [
          factory.table('ConsumedReadCapacityUnits', props.tableName),
          factory.table('ConsumedWriteCapacityUnits', props.tableName),
        ]),
      ],
      [
        graph(
          PANEL_TITLES.active,
          workflows.map((w) => factory.activeRuns(w)),
        ),
        graph(
          PANEL_TITLES.inactive(thresholds.inactiveMinutes),
          workflows.map((w) => factory.inactiveRuns(w)),
        ),
        graph(
          PANEL_TITLES.stuck(thresholds.stuckMinutes),
          workflows.map((w) => factory.stuckRuns(w)),
        ),
      ],
      [
        graph(
          PANEL_TITLES.throughput,
          workflows.flatMap((w) => [factory.runsStarted(w, minute), factory.runsCompleted(w, minute)]),
          { width: WIDTH / 2 },
        ),
        graph(
          PANEL_TITLES.failures,
          workflows.flatMap((w) => [
            factory.runsFailed(w, fiveMinutes),
            factory.runsCancelled(w, fiveMinutes),
          ]),
          { width: WIDTH / 2, right: workflows.map((w) => factory.failureRatePercent(w, fiveMinutes)) },
        ),
      ],
      [
        graph(
          PANEL_TITLES.runDuration,
          workflows.flatMap((w) => [
            factory.runDuration(w, 'p50', fiveMinutes),
            factory.runDuration(w, 'p99', fiveMinutes),
          ]),
        ),
        graph(PANEL_TITLES.stageDuration, [
          factory.searchStageDurations('p50'),
          factory.searchStageDurations('p99'),
        ]),
        graph(PANEL_TITLES.stageOverhead, [
          factory.searchStageOverhead('p50'),
          factory.searchStageOverhead('p99'),
        ]),
      ],
      [
        graph(PANEL_TITLES.pluginErrors, [factory.searchPluginErrors()], { width: WIDTH / 2 }),
        graph(
          PANEL_TITLES.deadLetters,
          props.deadLetterQueueNames.map((q) =>
            factory.deadLetterQueueDepth(q).with({ statistic: Stats.MAXIMUM }),
          ),
          { width: WIDTH / 2 },
        ),
      ],
    ];

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
    // CloudFormation now accepts Tags on dashboards, but cfn-lint 1.51 (our template check) rejects
    // them, and app-wide tags would land here. Dashboards are found by name, so this one goes untagged.
    (this.dashboard.node.defaultChild as CfnDashboard).addPropertyDeletionOverride('Tags');
    this.graphs = graphs;
  }
}
