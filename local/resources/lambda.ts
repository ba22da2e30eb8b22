/**
 * AWS::Lambda::Function and AWS::Lambda::EventSourceMapping: functions are registered with the Lambda
 * runner (never with moto, which would need Docker) from their asset directory in the cloud assembly;
 * SQS event source mappings are polled by the runner.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assetDirectory } from '../assembly.js';
import { isRecord, nested, TAGS_REASON } from './properties.js';
import { arn, generatedName, type ProviderContext, type ResourceProvider } from './provider.js';

async function codeDirectory(context: ProviderContext, code: Record<string, unknown>): Promise<string> {
  const p = nested(context.properties, 'Code', code);
  const zipFile = p.optionalString('ZipFile');
  const key = p.optionalString('S3Key');
  p.optionalString('S3Bucket');
  p.ignore('S3ObjectVersion', 'assets are read from the cloud assembly, not S3');
  p.reject('ImageUri', 'container image functions cannot run in the local Lambda runner');
  p.reject('SourceKMSKeyArn', 'encrypted code is not emulated');
  p.done();
  if (zipFile !== undefined) {
    const directory = await context.makeTempDirectory();
    await writeFile(join(directory, 'index.js'), zipFile, 'utf8');
    return directory;
  }
  if (key === undefined)
    throw context.properties.error('Code', 'needs S3Key (an asset of the cloud assembly) or ZipFile');
  return assetDirectory(context.stack, key);
}

export const lambdaFunctionProvider: ResourceProvider = {
  types: ['AWS::Lambda::Function'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const name = p.optionalString('FunctionName') ?? generatedName(context.stackName, context.logicalId, 64);
    const packageType = p.optionalString('PackageType');
    if (packageType !== undefined && packageType !== 'Zip')
      throw p.error('PackageType', 'only Zip functions can run locally');
    const code = p.optionalObject('Code');
    if (code === undefined) throw p.error('Code', 'is required');
    const handler = p.string('Handler');
    const runtime = p.string('Runtime');
    const variables = p.optionalObject('Environment');
    const environment: Record<string, string> = {};
    if (variables !== undefined) {
      const env = nested(p, 'Environment', variables);
      const values = env.optionalObject('Variables') ?? {};
      env.ignore('KMSKeyArn', 'environment encryption is not emulated');
      env.done();
      for (const [key, value] of Object.entries(values)) {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          throw p.error(`Environment.Variables.${key}`, `expected a string, got ${JSON.stringify(value)}`);
        }
        environment[key] = String(value);
      }
    }
    const deadLetter = p.optionalObject('DeadLetterConfig');
    const deadLetterTargetArn = deadLetter === undefined ? undefined : deadLetter.TargetArn;
    if (deadLetterTargetArn !== undefined && typeof deadLetterTargetArn !== 'string') {
      throw p.error('DeadLetterConfig.TargetArn', 'expected an ARN');
    }
    const layers = p.optionalArray('Layers');
    if (layers !== undefined && layers.length > 0) {
      throw p.error(
        'Layers',
        'layers are not emulated; bundle the code into the function (NodejsFunction does)',
      );
    }
    const timeoutSeconds = p.optionalNumber('Timeout') ?? 3;
    const memorySizeMb = p.optionalNumber('MemorySize') ?? 128;
    const reservedConcurrency = p.optionalNumber('ReservedConcurrentExecutions');
    const roleArn = p.optionalString('Role');
    p.ignore('Description', 'descriptive only');
    p.ignore('Architectures', 'functions run on the host CPU');
    p.ignore('TracingConfig', 'X-Ray tracing is not emulated');
    p.ignore('LoggingConfig', 'function output is captured by the runner, not CloudWatch Logs');
    p.ignore('VpcConfig', 'the local cloud has no network isolation');
    p.ignore('KmsKeyArn', 'environment encryption is not emulated');
    p.ignore('EphemeralStorage', 'functions use the host file system');
    p.ignore('RuntimeManagementConfig', 'the runtime is the local Node.js');
    p.ignore('SnapStart', 'SnapStart is not emulated');
    p.ignore('RecursiveLoop', 'recursive loop detection is not emulated');
    p.ignore('CodeSigningConfigArn', 'code signing is not emulated');
    p.ignore('Tags', TAGS_REASON);
    p.reject('FileSystemConfigs', 'EFS mounts are not emulated');
    p.reject('ImageConfig', 'container image functions cannot run locally');
    const directory = await codeDirectory(context, code);
    p.done();
    const functionArn = arn(context.environment, 'lambda', `function:${name}`);
    context.runner.register({
      name,
      arn: functionArn,
      handler,
      codeDirectory: directory,
      runtime,
      timeoutSeconds,
      memorySizeMb,
      environment,
      ...(reservedConcurrency !== undefined ? { reservedConcurrency } : {}),
      ...(deadLetterTargetArn !== undefined ? { deadLetterTargetArn } : {}),
      ...(roleArn !== undefined ? { roleArn } : {}),
    });
    return { physicalId: name, attributes: { Arn: functionArn } };
  },
};

export const eventSourceMappingProvider: ResourceProvider = {
  types: ['AWS::Lambda::EventSourceMapping'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const sourceArn = p.string('EventSourceArn');
    const functionName = p.string('FunctionName');
    if (!sourceArn.startsWith('arn:aws:sqs:')) {
      throw p.error(
        'EventSourceArn',
        `${sourceArn} is not an SQS queue; the local runner polls SQS event sources only (DynamoDB/Kinesis streams and Kafka are not emulated)`,
      );
    }
    const batchSize = p.optionalNumber('BatchSize') ?? 10;
    const window = p.optionalNumber('MaximumBatchingWindowInSeconds') ?? 0;
    const responseTypes = p.optionalStringArray('FunctionResponseTypes') ?? [];
    const enabled = p.optionalBoolean('Enabled') ?? true;
    const scaling = p.optionalObject('ScalingConfig');
    const maximumConcurrency =
      scaling !== undefined && scaling.MaximumConcurrency !== undefined
        ? Number(scaling.MaximumConcurrency)
        : undefined;
    const filters = p.optionalObject('FilterCriteria');
    if (
      filters !== undefined &&
      isRecord(filters) &&
      Array.isArray(filters.Filters) &&
      filters.Filters.length > 0
    ) {
      throw p.error('FilterCriteria', 'event filtering of event source mappings is not emulated');
    }
    p.ignore('Tags', TAGS_REASON);
    p.ignore('MetricsConfig', 'event source mapping metrics are not emulated');
    for (const streamOnly of [
      'StartingPosition',
      'StartingPositionTimestamp',
      'ParallelizationFactor',
      'BisectBatchOnFunctionError',
      'MaximumRecordAgeInSeconds',
      'MaximumRetryAttempts',
      'TumblingWindowInSeconds',
      'DestinationConfig',
    ]) {
      p.reject(
        streamOnly,
        'applies to stream event sources, which are not emulated (and is invalid for SQS)',
      );
    }
    p.done();
    if (batchSize < 1 || batchSize > 10_000) throw p.error('BatchSize', `must be 1..10000, got ${batchSize}`);
    if (batchSize > 10 && window < 1) {
      throw p.error(
        'MaximumBatchingWindowInSeconds',
        'must be at least 1 when BatchSize is above 10 (as on AWS)',
      );
    }
    const uuid = randomUUID();
    context.runner.addSqsEventSource({
      uuid,
      queueArn: sourceArn,
      queueUrl: context.runner.queueUrlOf(sourceArn),
      functionName,
      batchSize,
      maximumBatchingWindowSeconds: window,
      reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
      ...(maximumConcurrency !== undefined ? { maximumConcurrency } : {}),
      enabled,
    });
    return {
      physicalId: uuid,
      attributes: {
        Id: uuid,
        EventSourceMappingArn: arn(context.environment, 'lambda', `event-source-mapping:${uuid}`),
      },
    };
  },
};
