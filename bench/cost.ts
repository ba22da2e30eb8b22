/**
 * The cost model: counted requests per run × list prices, and the Step Functions designs of the same
 * workflow for comparison. Pure arithmetic, tested on a hand-computed example.
 */
import type { Counts } from './meter.js';
import { PRICES, type Prices } from './prices.js';

/** Memory the constructs configure (lib/core-stack.ts start function, lib/activity-stage.ts). */
export const LAMBDA_MEMORY_MB = { start: 256, stage: 512 } as const;

/**
 * Bytes of the Lambda platform's own log lines per invocation (JSON log format: `platform.start`,
 * `platform.report`, ...). Not measured here (no Lambda service in the harness): an estimate.
 */
export const PLATFORM_LOG_BYTES_PER_INVOCATION = 600;

export interface CostLine {
  readonly item: string;
  /** Billed quantity per run. */
  readonly quantity: number;
  readonly unit: string;
  /** US dollars per million runs. */
  readonly usdPerMillionRuns: number;
  /** Whether the line is part of the orchestration total. */
  readonly inTotal: boolean;
  readonly note?: string;
}

export interface CostModel {
  readonly lines: readonly CostLine[];
  /** Orchestration cost per million runs: every line marked `inTotal`. */
  readonly totalUsdPerMillionRuns: number;
  /**
   * The same total with the Lambda duration line replaced by a model: the functions' SDK calls per
   * run × `MODELED_AWS_CALL_MS` at the stage orchestrators' memory. An estimate, labelled as such.
   */
  readonly modeled: {
    readonly sdkCallsPerRun: number;
    readonly callMs: number;
    readonly gbSeconds: number;
    readonly totalUsdPerMillionRuns: number;
  };
}

/** Assumed mean latency of one AWS API call from Lambda in-region (DynamoDB, SNS, SQS). An assumption. */
export const MODELED_AWS_CALL_MS = 10;

const perMillion = (quantity: number, usdPerUnit: number) => quantity * usdPerUnit * 1e6;

/** GB-seconds of invocations with the given durations, each rounded up to the billed millisecond. */
export function gbSeconds(durationsMs: readonly number[], memoryMb: number): number {
  return durationsMs.reduce((sum, ms) => sum + Math.ceil(ms) / 1000, 0) * (memoryMb / 1024);
}

/**
 * Cost per million runs from request counts of `runs` runs (`counts`), and Lambda durations from
 * `timing` (runs without the meter's extra image reads; defaults to `counts`).
 */
export function costModel(
  counts: Counts,
  runs: number,
  options: { timing?: { counts: Counts; runs: number }; prices?: Prices } = {},
): CostModel {
  const prices = options.prices ?? PRICES;
  const per = (n: number) => n / runs;
  const timing = options.timing ?? { counts, runs };
  const sqs = counts.sqs;
  const invocations = per(counts.lambda.start.invocations + counts.lambda.stage.invocations);
  const gbs =
    (gbSeconds(timing.counts.lambda.start.durationsMs, LAMBDA_MEMORY_MB.start) +
      gbSeconds(timing.counts.lambda.stage.durationsMs, LAMBDA_MEMORY_MB.stage)) /
    timing.runs;
  const logBytes =
    per(counts.logs.emfBytes + counts.logs.logBytes) + invocations * PLATFORM_LOG_BYTES_PER_INVOCATION;
  const writeUnits = per(counts.dynamo.tableWriteUnits + counts.dynamo.indexWriteUnits);
  const lines: CostLine[] = [
    {
      item: 'SNS publishes (dispatch + lifecycle events)',
      quantity: per(counts.snsPublish.chunks + counts.snsEvents.chunks),
      unit: '64 KB publish chunks',
      usdPerMillionRuns: perMillion(
        per(counts.snsPublish.chunks + counts.snsEvents.chunks),
        prices.snsPublish.usd,
      ),
      inTotal: true,
    },
    {
      item: 'SQS sends: plugin reports',
      quantity: per(sqs.pluginReport.chunks),
      unit: '64 KB request chunks',
      usdPerMillionRuns: perMillion(per(sqs.pluginReport.chunks), prices.sqsRequest.usd),
      inTotal: true,
    },
    {
      item: 'SQS sends: engine commands (start-stage)',
      quantity: per(sqs.engineSend.chunks),
      unit: '64 KB request chunks',
      usdPerMillionRuns: perMillion(per(sqs.engineSend.chunks), prices.sqsRequest.usd),
      inTotal: true,
    },
    {
      item: 'SQS event-source polling: non-empty receives + batch deletes',
      quantity: per(sqs.pollReceive.chunks + sqs.pollDelete.chunks),
      unit: '64 KB request chunks',
      usdPerMillionRuns: perMillion(
        per(sqs.pollReceive.chunks + sqs.pollDelete.chunks),
        prices.sqsRequest.usd,
      ),
      inTotal: true,
      note: 'marginal per run; idle long polls are a fixed cost per inbox, not per run',
    },
    {
      item: 'DynamoDB writes (table + GSI)',
      quantity: writeUnits,
      unit: 'WRU',
      usdPerMillionRuns: perMillion(writeUnits, prices.dynamoWrite.usd),
      inTotal: true,
    },
    {
      item: 'DynamoDB reads',
      quantity: per(counts.dynamo.readUnits),
      unit: 'RRU',
      usdPerMillionRuns: perMillion(per(counts.dynamo.readUnits), prices.dynamoRead.usd),
      inTotal: true,
    },
    {
      item: 'Lambda requests (start + stage orchestrators)',
      quantity: invocations,
      unit: 'invocations',
      usdPerMillionRuns: perMillion(invocations, prices.lambdaRequest.usd),
      inTotal: true,
    },
    {
      item: 'Lambda duration (arm64, configured memory × measured duration)',
      quantity: gbs,
      unit: 'GB-s',
      usdPerMillionRuns: perMillion(gbs, prices.lambdaArmGbSecond.usd),
      inTotal: true,
      note: 'durations measured against moto on this machine: an upper bound for DynamoDB latency',
    },
    {
      item: 'CloudWatch Logs ingestion (EMF + app logs + platform lines)',
      quantity: logBytes,
      unit: 'bytes',
      usdPerMillionRuns: perMillion(logBytes / 1024 ** 3, prices.logsIngestion.usd),
      inTotal: true,
      note: `platform lines estimated at ${PLATFORM_LOG_BYTES_PER_INVOCATION} B per invocation`,
    },
  ];
  const totalUsdPerMillionRuns = lines.filter((l) => l.inTotal).reduce((s, l) => s + l.usdPerMillionRuns, 0);
  const sdkCallsPerRun = per(
    counts.snsPublish.requests +
      counts.snsEvents.requests +
      sqs.engineSend.requests +
      Object.values(counts.dynamo.requests).reduce((a, b) => a + b, 0),
  );
  const modeledGbs = ((sdkCallsPerRun * MODELED_AWS_CALL_MS) / 1000) * (LAMBDA_MEMORY_MB.stage / 1024);
  const measuredDuration = lines.find((l) => l.unit === 'GB-s')?.usdPerMillionRuns ?? 0;
  return {
    lines,
    totalUsdPerMillionRuns,
    modeled: {
      sdkCallsPerRun,
      callMs: MODELED_AWS_CALL_MS,
      gbSeconds: modeledGbs,
      totalUsdPerMillionRuns:
        totalUsdPerMillionRuns - measuredDuration + perMillion(modeledGbs, prices.lambdaArmGbSecond.usd),
    },
  };
}

/**
 * State transitions of a faithful Step Functions Standard design of the reference workflow, counted
 * as states entered: per activity a pre Task (SNS publish with `.waitForTaskToken`), a Map state over
 * the registered parallel plugins plus one Task per iteration, and a post Task; then a Succeed.
 * Registry lookups, status bookkeeping, timeouts and retries would add transitions: this is a floor.
 */
export function stepFunctionsTransitions(shape: {
  activities: number;
  pre: number;
  parallel: number;
  post: number;
}) {
  const perActivity = shape.pre + 1 + shape.parallel + shape.post;
  return { perActivity, total: shape.activities * perActivity + 1 };
}

export interface Comparison {
  readonly design: string;
  readonly usdPerMillionRuns: number;
  readonly how: string;
}

export function comparisons(
  plugboardUsd: number,
  options: { prices?: Prices; expressSeconds?: readonly number[] } = {},
): Comparison[] {
  const prices = options.prices ?? PRICES;
  const sfn = stepFunctionsTransitions({ activities: 3, pre: 1, parallel: 5, post: 1 });
  const expressGb = 64 / 1024;
  const rows: Comparison[] = [
    {
      design: 'Plugboard (measured, this benchmark)',
      usdPerMillionRuns: plugboardUsd,
      how: 'counted requests × list prices (table above)',
    },
    {
      design: 'Step Functions Standard, transitions only',
      usdPerMillionRuns: perMillion(sfn.total, prices.sfnTransition.usd),
      how: `${sfn.total} transitions (3 × (1 pre + 1 Map + 5 iterations + 1 post) + Succeed) × $0.025 per 1,000; plus its Lambda, SNS/SQS and status writes`,
    },
  ];
  for (const seconds of options.expressSeconds ?? [18, 60, 300]) {
    rows.push({
      design: `Step Functions Express, ${seconds} s run`,
      usdPerMillionRuns:
        perMillion(1, prices.sfnExpressRequest.usd) +
        perMillion(expressGb * seconds, prices.sfnExpressGbSecond.usd),
      how: `$1.00 per 1M requests + 64 MB × ${seconds} s × $0.06 per GB-hour; no .waitForTaskToken in Express, 5 min limit`,
    });
  }
  rows.push({
    design: 'Predecessor (Step Functions per activity), transitions only',
    usdPerMillionRuns: perMillion(19, prices.sfnTransition.usd),
    how: '~19 transitions per reference run (ARCHITECTURE.md §2, ORIGINAL.md) × $0.025 per 1,000; its Lambda (parallelStart at 3,008 MB) and whole-run-item DynamoDB writes come on top (not measured)',
  });
  return rows;
}
