/**
 * What a resource provider gets and returns. One provider per resource type creates the resource on
 * moto (or registers it with the Lambda runner) and reports its physical ID and the attributes
 * `Fn::GetAtt` can read.
 */
import { createHash } from 'node:crypto';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { StackArtifact } from '../assembly.js';
import type { CustomResourceEndpoint } from '../custom-resource-endpoint.js';
import type { LambdaRunner } from '../lambda-runner.js';
import type { PropertyReader } from './properties.js';

export interface AwsClients {
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly dynamodb: DynamoDBClient;
  readonly cloudwatch: CloudWatchClient;
  readonly events: EventBridgeClient;
}

export interface LocalEnvironment {
  readonly endpoint: string;
  readonly region: string;
  readonly accountId: string;
}

export interface ProviderContext {
  readonly stackName: string;
  readonly logicalId: string;
  readonly type: string;
  readonly stack: StackArtifact;
  /** The resource's properties, intrinsics resolved. */
  readonly properties: PropertyReader;
  readonly clients: AwsClients;
  readonly runner: LambdaRunner;
  readonly environment: LocalEnvironment;
  readonly customResources: CustomResourceEndpoint;
  /** How long a custom resource may take to answer. */
  readonly customResourceTimeoutMs: number;
  /** A scratch directory removed when the deployer closes (inline Lambda code lives there). */
  readonly makeTempDirectory: () => Promise<string>;
}

export interface CreatedResource {
  /** What `Ref` returns. */
  readonly physicalId: string;
  /** What `Fn::GetAtt` can read. */
  readonly attributes?: Readonly<Record<string, unknown>>;
}

export interface ResourceProvider {
  /** The CloudFormation types this provider creates. */
  readonly types: readonly string[];
  create(context: ProviderContext): Promise<CreatedResource>;
}

/**
 * A name like CloudFormation generates for resources without an explicit one:
 * `<stack>-<logicalId>-<suffix>`, cut to `maxLength`. The suffix is a hash of stack and logical ID,
 * so the same template gets the same names in every local cloud.
 */
export function generatedName(stackName: string, logicalId: string, maxLength: number, ending = ''): string {
  const suffix = createHash('sha256')
    .update(`${stackName}/${logicalId}`)
    .digest('hex')
    .slice(0, 12)
    .toUpperCase();
  const room = maxLength - suffix.length - 1 - ending.length;
  const base = `${stackName}-${logicalId}`.slice(0, Math.max(1, room));
  return `${base}-${suffix}${ending}`;
}

/** `arn:aws:<service>:<region>:<account>:<resource>`. */
export function arn(
  environment: LocalEnvironment,
  service: string,
  resource: string,
  region = environment.region,
): string {
  return `arn:aws:${service}:${region}:${environment.accountId}:${resource}`;
}
