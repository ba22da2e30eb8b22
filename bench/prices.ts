/**
 * AWS list prices, us-east-1, on-demand, without free tiers, as read on 2026-11-23 from the AWS
 * pricing pages named in `source`. Change them here; every figure in docs/benchmarks.* derives from
 * this table.
 */
export interface Price {
  readonly id: string;
  readonly what: string;
  /** US dollars per `unit`. */
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
}

export const PRICES_AS_OF = '2026-11-23';

export const PRICES = {
  snsPublish: {
    id: 'snsPublish',
    what: 'SNS standard topic publish (per 64 KB chunk)',
    usd: 0.5 / 1e6,
    unit: 'request',
    source: 'Amazon SNS pricing (aws.amazon.com/sns/pricing); deliveries to SQS and Lambda are not charged',
  },
  sqsRequest: {
    id: 'sqsRequest',
    what: 'SQS standard queue request (per 64 KB chunk)',
    usd: 0.4 / 1e6,
    unit: 'request',
    source: 'Amazon SQS pricing (aws.amazon.com/sqs/pricing), tier after the first 1M free',
  },
  dynamoWrite: {
    id: 'dynamoWrite',
    what: 'DynamoDB on-demand write request unit',
    usd: 0.625 / 1e6,
    unit: 'WRU',
    source:
      'Amazon DynamoDB pricing, on-demand (aws.amazon.com/dynamodb/pricing), after the Nov 2024 50% cut',
  },
  dynamoRead: {
    id: 'dynamoRead',
    what: 'DynamoDB on-demand read request unit',
    usd: 0.125 / 1e6,
    unit: 'RRU',
    source:
      'Amazon DynamoDB pricing, on-demand (aws.amazon.com/dynamodb/pricing), after the Nov 2024 50% cut',
  },
  lambdaRequest: {
    id: 'lambdaRequest',
    what: 'Lambda request',
    usd: 0.2 / 1e6,
    unit: 'invocation',
    source: 'AWS Lambda pricing (aws.amazon.com/lambda/pricing)',
  },
  lambdaArmGbSecond: {
    id: 'lambdaArmGbSecond',
    what: 'Lambda duration, arm64, first 7.5 billion GB-s per month',
    usd: 0.0000133334,
    unit: 'GB-s',
    source: 'AWS Lambda pricing (aws.amazon.com/lambda/pricing), Arm price',
  },
  logsIngestion: {
    id: 'logsIngestion',
    what: 'CloudWatch Logs standard ingestion',
    usd: 0.5,
    unit: 'GB',
    source: 'Amazon CloudWatch pricing (aws.amazon.com/cloudwatch/pricing), Logs: collect (data ingestion)',
  },
  sfnTransition: {
    id: 'sfnTransition',
    what: 'Step Functions Standard state transition',
    usd: 0.025 / 1000,
    unit: 'transition',
    source: 'AWS Step Functions pricing (aws.amazon.com/step-functions/pricing)',
  },
  sfnExpressRequest: {
    id: 'sfnExpressRequest',
    what: 'Step Functions Express request',
    usd: 1 / 1e6,
    unit: 'request',
    source: 'AWS Step Functions pricing (aws.amazon.com/step-functions/pricing)',
  },
  sfnExpressGbSecond: {
    id: 'sfnExpressGbSecond',
    what: 'Step Functions Express duration, first 1,000 GB-hours ($0.06 per GB-hour), billed in 64 MB',
    usd: 0.06 / 3600,
    unit: 'GB-s',
    source: 'AWS Step Functions pricing (aws.amazon.com/step-functions/pricing), Express duration tier 1',
  },
  xrayTraceRecorded: {
    id: 'xrayTraceRecorded',
    what: 'X-Ray trace recorded',
    usd: 5 / 1e6,
    unit: 'trace',
    source: 'AWS X-Ray pricing (aws.amazon.com/xray/pricing), traces recorded, after the free tier',
  },
  xrayTraceRetrieved: {
    id: 'xrayTraceRetrieved',
    what: 'X-Ray trace retrieved or scanned',
    usd: 0.5 / 1e6,
    unit: 'trace',
    source: 'AWS X-Ray pricing (aws.amazon.com/xray/pricing), traces retrieved/scanned, after the free tier',
  },
  cloudwatchMetric: {
    id: 'cloudwatchMetric',
    what: 'CloudWatch custom metric (each name + dimension set), first 10,000',
    usd: 0.3,
    unit: 'metric-month',
    source: 'Amazon CloudWatch pricing (aws.amazon.com/cloudwatch/pricing), Metrics, prorated by the hour',
  },
  kmsKey: {
    id: 'kmsKey',
    what: 'KMS customer managed key',
    usd: 1,
    unit: 'key-month',
    source:
      'AWS KMS pricing (aws.amazon.com/kms/pricing); AWS managed keys (aws/dynamodb) have no monthly fee',
  },
  kmsRequest: {
    id: 'kmsRequest',
    what: 'KMS API request (symmetric)',
    usd: 0.03 / 10_000,
    unit: 'request',
    source: 'AWS KMS pricing (aws.amazon.com/kms/pricing), requests after the free tier',
  },
} as const satisfies Record<string, Price>;

export type Prices = { readonly [K in keyof typeof PRICES]: Price };
