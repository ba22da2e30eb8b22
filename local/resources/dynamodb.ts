/**
 * AWS::DynamoDB::Table and AWS::DynamoDB::GlobalTable (CDK's TableV2) on moto: keys, billing mode,
 * GSIs and LSIs with their projections, streams, TTL, point-in-time recovery and SSE. A global table
 * becomes one table in the local region (the local cloud has a single region).
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { isRecord, nested, type PropertyReader, TAGS_REASON } from './properties.js';
import { generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

const keySchema = z.array(z.object({ AttributeName: z.string(), KeyType: z.enum(['HASH', 'RANGE']) }));
const attributeDefinitions = z.array(
  z.object({ AttributeName: z.string(), AttributeType: z.enum(['S', 'N', 'B']) }),
);
const throughput = z.object({ ReadCapacityUnits: z.coerce.number(), WriteCapacityUnits: z.coerce.number() });
const projection = z.object({
  ProjectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']).optional(),
  NonKeyAttributes: z.array(z.string()).optional(),
});
const index = z.looseObject({
  IndexName: z.string(),
  KeySchema: keySchema,
  Projection: projection,
  ProvisionedThroughput: throughput.optional(),
});
const stream = z.object({
  StreamViewType: z.enum(['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES']),
});
const ttl = z.object({
  AttributeName: z.string().optional(),
  Enabled: z.union([z.boolean(), z.enum(['true', 'false'])]),
});
const pitr = z.looseObject({
  PointInTimeRecoveryEnabled: z.union([z.boolean(), z.enum(['true', 'false'])]).optional(),
});
const sse = z.object({
  SSEEnabled: z.union([z.boolean(), z.enum(['true', 'false'])]),
  SSEType: z.string().optional(),
  KMSMasterKeyId: z.string().optional(),
});

function read<T>(p: PropertyReader, name: string, schema: z.ZodType<T>): T | undefined {
  const value = p.raw(name);
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw p.error(name, `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

const truthy = (value: boolean | 'true' | 'false' | undefined) => value === true || value === 'true';

interface TableShape {
  readonly input: CreateTableCommandInput;
  readonly ttl: z.infer<typeof ttl> | undefined;
  readonly pitr: boolean;
}

function readCommon(p: PropertyReader, name: string): Omit<CreateTableCommandInput, 'BillingMode'> {
  const keys = read(p, 'KeySchema', keySchema);
  const definitions = read(p, 'AttributeDefinitions', attributeDefinitions);
  if (keys === undefined) throw p.error('KeySchema', 'is required');
  if (definitions === undefined) throw p.error('AttributeDefinitions', 'is required');
  const lsis = read(p, 'LocalSecondaryIndexes', z.array(index));
  const streamSpec = read(p, 'StreamSpecification', stream);
  const sseSpec = read(p, 'SSESpecification', sse);
  return {
    TableName: name,
    KeySchema: keys,
    AttributeDefinitions: definitions,
    ...(lsis !== undefined
      ? {
          LocalSecondaryIndexes: lsis.map((lsi) => ({
            IndexName: lsi.IndexName,
            KeySchema: lsi.KeySchema,
            Projection: lsi.Projection,
          })),
        }
      : {}),
    ...(streamSpec !== undefined
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: streamSpec.StreamViewType } }
      : {}),
    ...(sseSpec !== undefined
      ? {
          SSESpecification: {
            Enabled: truthy(sseSpec.SSEEnabled),
            ...(sseSpec.SSEType !== undefined
              ? { SSEType: sseSpec.SSEType === 'KMS' ? 'KMS' : 'AES256' }
              : {}),
            ...(sseSpec.KMSMasterKeyId !== undefined ? { KMSMasterKeyId: sseSpec.KMSMasterKeyId } : {}),
          },
        }
      : {}),
  };
}

function gsis(p: PropertyReader, provisioned: boolean, fallback: z.infer<typeof throughput> | undefined) {
  const list = read(p, 'GlobalSecondaryIndexes', z.array(index));
  if (list === undefined) return {};
  return {
    GlobalSecondaryIndexes: list.map((gsi) => ({
      IndexName: gsi.IndexName,
      KeySchema: gsi.KeySchema,
      Projection: gsi.Projection,
      ...(provisioned ? { ProvisionedThroughput: gsi.ProvisionedThroughput ?? fallback } : {}),
    })),
  };
}

function tableShape(context: ProviderContext): TableShape {
  const p = context.properties;
  const name = p.optionalString('TableName') ?? generatedName(context.stackName, context.logicalId, 255);
  const billing = p.optionalString('BillingMode') ?? 'PROVISIONED';
  if (billing !== 'PROVISIONED' && billing !== 'PAY_PER_REQUEST')
    throw p.error('BillingMode', `unknown mode ${billing}`);
  const provisioned = billing === 'PROVISIONED';
  const capacity = read(p, 'ProvisionedThroughput', throughput);
  if (provisioned && capacity === undefined)
    throw p.error('ProvisionedThroughput', 'is required for BillingMode PROVISIONED');
  const common = readCommon(p, name);
  const input: CreateTableCommandInput = {
    ...common,
    BillingMode: billing,
    ...(provisioned ? { ProvisionedThroughput: capacity } : {}),
    ...gsis(p, provisioned, capacity),
  };
  const tableClass = p.optionalString('TableClass');
  if (tableClass === 'STANDARD_INFREQUENT_ACCESS') input.TableClass = 'STANDARD_INFREQUENT_ACCESS';
  const deletionProtection = p.optionalBoolean('DeletionProtectionEnabled');
  if (deletionProtection !== undefined) input.DeletionProtectionEnabled = deletionProtection;
  const timeToLive = read(p, 'TimeToLiveSpecification', ttl);
  const recovery = read(p, 'PointInTimeRecoverySpecification', pitr);
  p.ignore('Tags', TAGS_REASON);
  p.ignore('ContributorInsightsSpecification', 'Contributor Insights is not emulated');
  p.ignore(
    'ResourcePolicy',
    'not given to moto; the local cloud evaluates it itself (local/iam) for callers of the table and its indexes',
  );
  p.ignore('OnDemandThroughput', 'throughput limits (throttling) are not emulated');
  p.ignore('WarmThroughput', 'throughput limits (throttling) are not emulated');
  p.reject('KinesisStreamSpecification', 'Kinesis streaming of DynamoDB changes is not emulated');
  p.reject('ImportSourceSpecification', 'importing from S3 is not emulated');
  p.done();
  return { input, ttl: timeToLive, pitr: truthy(recovery?.PointInTimeRecoveryEnabled) };
}

function globalTableShape(context: ProviderContext): TableShape {
  const p = context.properties;
  const name = p.optionalString('TableName') ?? generatedName(context.stackName, context.logicalId, 255);
  const billing = p.optionalString('BillingMode') ?? 'PROVISIONED';
  if (billing !== 'PAY_PER_REQUEST') {
    throw p.error(
      'BillingMode',
      'the local cloud creates global tables with PAY_PER_REQUEST only (provisioned auto-scaling settings have no local meaning)',
    );
  }
  const common = readCommon(p, name);
  const replicas = p.optionalArray('Replicas') ?? [];
  const local = replicas.find(
    (replica) => isRecord(replica) && replica.Region === context.environment.region,
  );
  if (local === undefined || !isRecord(local)) {
    throw p.error('Replicas', `must include a replica in the local region ${context.environment.region}`);
  }
  if (replicas.length > 1) {
    p.ignored.push({
      property: 'Replicas',
      reason: 'the local cloud has one region; replicas in other regions are not created',
    });
  }
  const replica = nested(p, 'Replicas[local]', local);
  replica.string('Region');
  const recovery = read(replica, 'PointInTimeRecoverySpecification', pitr);
  const deletionProtection = replica.optionalBoolean('DeletionProtectionEnabled');
  const tableClass = replica.optionalString('TableClass');
  replica.ignore('Tags', TAGS_REASON);
  replica.ignore('ContributorInsightsSpecification', 'Contributor Insights is not emulated');
  replica.ignore(
    'GlobalSecondaryIndexes',
    'per-replica index settings are read capacity and insights, not emulated',
  );
  replica.ignore('ReadProvisionedThroughputSettings', 'throughput limits (throttling) are not emulated');
  replica.ignore('ReadOnDemandThroughputSettings', 'throughput limits (throttling) are not emulated');
  replica.ignore('SSESpecification', 'encryption at rest is not emulated');
  replica.ignore('ResourcePolicy', 'moto does not evaluate resource policies');
  replica.ignore('ReplicaStreamSpecification', 'resource policies of streams are not evaluated');
  replica.ignore('WarmThroughput', 'throughput limits (throttling) are not emulated');
  replica.reject('KinesisStreamSpecification', 'Kinesis streaming of DynamoDB changes is not emulated');
  replica.done();
  p.ignored.push(...replica.ignored);
  const input: CreateTableCommandInput = {
    ...common,
    BillingMode: 'PAY_PER_REQUEST',
    ...gsis(p, false, undefined),
    ...(deletionProtection !== undefined ? { DeletionProtectionEnabled: deletionProtection } : {}),
    ...(tableClass === 'STANDARD_INFREQUENT_ACCESS' ? { TableClass: 'STANDARD_INFREQUENT_ACCESS' } : {}),
  };
  const timeToLive = read(p, 'TimeToLiveSpecification', ttl);
  p.ignore('WriteOnDemandThroughputSettings', 'throughput limits (throttling) are not emulated');
  p.ignore('WarmThroughput', 'throughput limits (throttling) are not emulated');
  p.reject(
    'WriteProvisionedThroughputSettings',
    'provisioned global tables are not emulated; use PAY_PER_REQUEST',
  );
  p.done();
  return { input, ttl: timeToLive, pitr: truthy(recovery?.PointInTimeRecoveryEnabled) };
}

async function createTable(context: ProviderContext, shape: TableShape) {
  const { dynamodb } = context.clients;
  const name = shape.input.TableName ?? '';
  await dynamodb.send(new CreateTableCommand(shape.input));
  if (shape.ttl !== undefined && truthy(shape.ttl.Enabled)) {
    if (shape.ttl.AttributeName === undefined) {
      throw context.properties.error(
        'TimeToLiveSpecification',
        'AttributeName is required when TTL is enabled',
      );
    }
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: shape.ttl.AttributeName, Enabled: true },
      }),
    );
  }
  if (shape.pitr) {
    await dynamodb.send(
      new UpdateContinuousBackupsCommand({
        TableName: name,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    );
  }
  const described = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
  const table = described.Table;
  if (table?.TableArn === undefined) throw new Error(`moto returned no ARN for table ${name}`);
  return {
    physicalId: name,
    attributes: {
      Arn: table.TableArn,
      StreamArn: table.LatestStreamArn,
      TableId: table.TableId,
    },
  };
}

export const dynamoTableProvider: ResourceProvider = {
  types: ['AWS::DynamoDB::Table'],
  create: (context) => createTable(context, tableShape(context)),
};

export const dynamoGlobalTableProvider: ResourceProvider = {
  types: ['AWS::DynamoDB::GlobalTable'],
  create: (context) => createTable(context, globalTableShape(context)),
};
