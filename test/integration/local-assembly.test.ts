// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are CloudFormation Fn::Sub templates, not JS templates
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  AssemblyError,
  assetDirectory,
  type CfnTemplate,
  IntrinsicError,
  MissingImportError,
  NO_VALUE,
  readAssembly,
  referencedResources,
  rewriteSqsUrls,
  TemplateResolver,
} from '../../local/index.js';
import { CJS_HANDLERS, FIXTURE_ASSEMBLY, writeAssembly } from '../fixtures/local/harness.js';
import { motoClientConfig, useMoto } from '../support/moto.js';

const moto = useMoto();

const PSEUDO = {
  region: 'us-east-1',
  accountId: '123456789012',
  partition: 'aws',
  urlSuffix: 'amazonaws.com',
  stackName: 'demo',
  stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/demo/local',
};

function resolver(
  template: Partial<CfnTemplate>,
  options: { sqsEndpoint?: string; imports?: Record<string, string> } = {},
) {
  const full: CfnTemplate = { Resources: {}, ...template };
  return new TemplateResolver({
    template: full,
    pseudo: PSEUDO,
    resources: {
      ref: (logicalId) => `physical-${logicalId}`,
      getAtt: (logicalId, attribute) => `${logicalId}.${attribute}`,
    },
    importValue: (name, path) => {
      const value = options.imports?.[name];
      if (value === undefined) throw new MissingImportError('demo', name, path);
      return value;
    },
    ...(options.sqsEndpoint !== undefined ? { sqsEndpoint: options.sqsEndpoint } : {}),
  });
}

describe('readAssembly', () => {
  it('orders stacks so that a stack comes after the stacks it depends on', async () => {
    const assembly = await readAssembly(FIXTURE_ASSEMBLY);

    expect(assembly.stacks.map((stack) => stack.stackName)).toEqual(['fixture-core', 'fixture-plugins']);
    expect(assembly.stacks[1]?.dependencies).toEqual(['fixture-core']);
  });

  it("maps a function's Code.S3Key to its asset directory", async () => {
    const assembly = await readAssembly(FIXTURE_ASSEMBLY);
    const core = assembly.stacks[0];
    if (core === undefined) throw new Error('fixture-core missing');
    const code = core.template.Resources.BatchFunction?.Properties?.Code;
    const key = typeof code === 'object' && code !== null ? Reflect.get(code, 'S3Key') : undefined;

    expect(typeof key).toBe('string');
    await expect(assetDirectory(core, String(key))).resolves.toBe(CJS_HANDLERS);
  });

  it('names the stack and the unknown asset key when a function refers to an asset the manifest lacks', async () => {
    const assembly = await readAssembly(FIXTURE_ASSEMBLY);
    const core = assembly.stacks[0];
    if (core === undefined) throw new Error('fixture-core missing');

    await expect(assetDirectory(core, 'nope.zip')).rejects.toThrow(
      /fixture-core references the asset "nope.zip"/,
    );
  });

  it('fails with the file name when a template is not valid JSON', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plugboard-broken-'));
    await cp(FIXTURE_ASSEMBLY, directory, { recursive: true });
    await writeFile(join(directory, 'fixture-core.template.json'), '{ not json');

    await expect(readAssembly(directory)).rejects.toThrow(AssemblyError);
    await expect(readAssembly(directory)).rejects.toThrow(/fixture-core.template.json is not valid JSON/);
    await rm(directory, { recursive: true, force: true });
  });

  it('fails on a dependency cycle between stacks, naming the cycle', async () => {
    const empty = { Resources: {} };
    const directory = await writeAssembly([
      { name: 'first', template: empty, dependencies: ['second'] },
      { name: 'second', template: empty, dependencies: ['first'] },
    ]);

    await expect(readAssembly(directory)).rejects.toThrow(/stack dependency cycle: first -> second -> first/);
    await rm(directory, { recursive: true, force: true });
  });
});

describe('TemplateResolver', () => {
  it('resolves pseudo parameters the way moto sees the account and region', () => {
    const r = resolver({});

    expect(
      r.resolve(
        {
          'Fn::Join': [
            ':',
            [
              { Ref: 'AWS::Partition' },
              { Ref: 'AWS::Region' },
              { Ref: 'AWS::AccountId' },
              { Ref: 'AWS::URLSuffix' },
              { Ref: 'AWS::StackName' },
            ],
          ],
        },
        'p',
      ),
    ).toBe('aws:us-east-1:123456789012:amazonaws.com:demo');
  });

  it('resolves Ref and Fn::GetAtt (both forms) through the resource lookup', () => {
    const r = resolver({ Resources: { Queue: { Type: 'AWS::SQS::Queue' } } });

    expect(r.resolve({ Ref: 'Queue' }, 'p')).toBe('physical-Queue');
    expect(r.resolve({ 'Fn::GetAtt': ['Queue', 'Arn'] }, 'p')).toBe('Queue.Arn');
    expect(r.resolve({ 'Fn::GetAtt': 'Queue.QueueName' }, 'p')).toBe('Queue.QueueName');
  });

  it('substitutes Fn::Sub variables, pseudo parameters, attributes and keeps ${!Literal} literal', () => {
    const r = resolver({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } } });

    expect(r.resolve({ 'Fn::Sub': '${AWS::Region}/${Topic}/${Topic.TopicName}/${!Literal}' }, 'p')).toBe(
      'us-east-1/physical-Topic/Topic.TopicName/${Literal}',
    );
    expect(r.resolve({ 'Fn::Sub': ['${A}-${B}', { A: 'x', B: { Ref: 'AWS::AccountId' } }] }, 'p')).toBe(
      'x-123456789012',
    );
  });

  it('resolves Fn::Select over Fn::Split and fails on an index outside the list', () => {
    const r = resolver({});

    expect(r.resolve({ 'Fn::Select': ['2', { 'Fn::Split': ['/', 'a/b/c'] }] }, 'p')).toBe('c');
    expect(() => r.resolve({ 'Fn::Select': [3, ['a']] }, 'Outputs.X')).toThrow(
      /Outputs.X.Fn::Select: .*outside/,
    );
  });

  it('evaluates conditions (Equals, And, Or, Not, Condition) and removes AWS::NoValue', () => {
    const r = resolver({
      Parameters: { Stage: { Type: 'String', Default: 'dev' } },
      Conditions: {
        IsDev: { 'Fn::Equals': [{ Ref: 'Stage' }, 'dev'] },
        NotProd: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] }] },
        Both: { 'Fn::And': [{ Condition: 'IsDev' }, { Condition: 'NotProd' }] },
        Either: { 'Fn::Or': [{ 'Fn::Equals': ['a', 'b'] }, { Condition: 'Both' }] },
      },
    });

    expect(r.condition('Either')).toBe(true);
    expect(
      r.resolve(
        {
          keep: { 'Fn::If': ['Both', 'yes', 'no'] },
          drop: { 'Fn::If': ['IsDev', { Ref: 'AWS::NoValue' }, 1] },
        },
        'p',
      ),
    ).toEqual({ keep: 'yes' });
    expect(r.resolve(['a', { Ref: 'AWS::NoValue' }, 'b'], 'p')).toEqual(['a', 'b']);
    expect(r.resolve({ Ref: 'AWS::NoValue' }, 'p')).toBeUndefined();
    expect(NO_VALUE.toString()).toContain('AWS::NoValue');
  });

  it('reads Fn::FindInMap and Fn::ImportValue, and names a missing export', () => {
    const r = resolver(
      { Mappings: { Tiers: { 'us-east-1': { Size: 'small' } } } },
      { imports: { 'core-topic-arn': 'arn:aws:sns:us-east-1:123456789012:t' } },
    );

    expect(r.resolve({ 'Fn::FindInMap': ['Tiers', { Ref: 'AWS::Region' }, 'Size'] }, 'p')).toBe('small');
    expect(r.resolve({ 'Fn::ImportValue': 'core-topic-arn' }, 'p')).toBe(
      'arn:aws:sns:us-east-1:123456789012:t',
    );
    expect(() => r.resolve({ 'Fn::ImportValue': 'missing-export' }, 'Resources.X.Properties.Y')).toThrow(
      /Fn::ImportValue "missing-export" is not exported/,
    );
  });

  it('fails on an unsupported intrinsic, an unknown Ref and an SSM parameter, naming the path', () => {
    const r = resolver({
      Parameters: {
        BootstrapVersion: { Type: 'AWS::SSM::Parameter::Value<String>', Default: '/cdk-bootstrap/x' },
      },
    });

    expect(() => r.resolve({ 'Fn::Cidr': ['10.0.0.0/16', 2, 8] }, 'Resources.Vpc')).toThrow(IntrinsicError);
    expect(() => r.resolve({ 'Fn::Cidr': ['10.0.0.0/16', 2, 8] }, 'Resources.Vpc')).toThrow(
      /demo Resources.Vpc.Fn::Cidr: intrinsic function Fn::Cidr is not supported/,
    );
    expect(() => r.resolve({ Ref: 'Nothing' }, 'p')).toThrow(
      /neither a resource, a parameter nor a pseudo parameter/,
    );
    expect(() => r.resolve({ Ref: 'BootstrapVersion' }, 'p')).toThrow(/SSM type/);
  });

  it('lists the resources a value refers to, through Ref, GetAtt and Fn::Sub, ignoring parameters', () => {
    const template: CfnTemplate = {
      Parameters: { Stage: { Type: 'String', Default: 'x' } },
      Resources: { A: { Type: 'T' }, B: { Type: 'T' }, C: { Type: 'T' }, D: { Type: 'T' } },
    };
    const value = {
      x: { Ref: 'A' },
      y: { 'Fn::GetAtt': ['B', 'Arn'] },
      z: { 'Fn::Sub': ['${C.Arn}-${Stage}-${Var}-${!D}', { Var: 'v' }] },
      w: { Ref: 'Stage' },
    };

    expect([...referencedResources(value, template)].sort()).toEqual(['A', 'B', 'C']);
  });
});

describe('SQS queue URLs built from the template', () => {
  it('rewrites AWS-form queue URLs inside strings to the emulator endpoint', () => {
    expect(
      rewriteSqsUrls(
        'a https://sqs.us-east-1.amazonaws.com/123456789012/q-{activity}-inbox b',
        'http://127.0.0.1:5000/',
      ),
    ).toBe('a http://127.0.0.1:5000/123456789012/q-{activity}-inbox b');
  });

  it('an inbox URL template built with Fn::Join reaches the moto queue through an env-configured SDK client', async () => {
    // Arrange: the queue the template names, and the template as the CDK app builds it.
    const admin = new SQSClient(motoClientConfig(moto.endpoint));
    await admin.send(new CreateQueueCommand({ QueueName: 'plugboard-local-orders-pre-inbox' }));
    const r = resolver({}, { sqsEndpoint: moto.endpoint });
    const template = r.resolve(
      {
        'Fn::Join': [
          '',
          [
            'https://sqs.',
            { Ref: 'AWS::Region' },
            '.',
            { Ref: 'AWS::URLSuffix' },
            '/',
            { Ref: 'AWS::AccountId' },
            '/plugboard-local-{activity}-{stage}-inbox',
          ],
        ],
      },
      'Env.PLUGBOARD_INBOX_URL_TEMPLATE',
    );
    expect(template).toBe(`${moto.endpoint}/123456789012/plugboard-local-{activity}-{stage}-inbox`);
    const url = String(template).replace('{activity}', 'orders').replace('{stage}', 'pre');

    // Act: a client configured like a handler's (endpoint from AWS_ENDPOINT_URL, not from code).
    const previous = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = moto.endpoint;
    const handlerLike = new SQSClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    });
    try {
      await handlerLike.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'report' }));
    } finally {
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = previous;
    }

    // Assert
    const received = await admin.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 1 }));
    expect(received.Messages?.map((message) => message.Body)).toEqual(['report']);
  });
});
