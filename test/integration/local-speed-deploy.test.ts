import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloud } from '../../local/cloud.js';
import { DuplicateExportError, LocalCloud } from '../../local/index.js';
import { type AdHocStack, startLocalCloud, writeAssembly } from '../fixtures/local/harness.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

/** A custom resource provider that sleeps `SleepMs`, then answers SUCCESS with when it ran. */
const PROVIDER = `
exports.provider = async (event) => {
  const start = Date.now();
  await new Promise((resolve) => setTimeout(resolve, Number(event.ResourceProperties.SleepMs)));
  const response = {
    Status: 'SUCCESS',
    PhysicalResourceId: event.LogicalResourceId + '-' + start,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: { Start: String(start), End: String(Date.now()) },
  };
  const answer = await fetch(event.ResponseURL, { method: 'PUT', body: JSON.stringify(response) });
  if (!answer.ok) throw new Error('the ResponseURL answered ' + answer.status);
};
`;

let codeDirectory: string;
let local: LocalCloud;

beforeAll(async () => {
  codeDirectory = await mkdtemp(join(tmpdir(), 'plugboard-speed-provider-'));
  await writeFile(join(codeDirectory, 'index.js'), PROVIDER);
  local = await startLocalCloud(moto.endpoint, { prewarm: 1 });
}, 120_000);

afterAll(async () => {
  await local?.stop();
  await rm(codeDirectory, { recursive: true, force: true });
});

/** A stack with a provider function and a custom resource that takes `sleepMs`, exporting `exportName`. */
function slowStack(
  name: string,
  options: { sleepMs: number; exportName?: string; importName?: string; dependencies?: string[] },
): AdHocStack {
  return {
    name,
    ...(options.dependencies !== undefined ? { dependencies: options.dependencies } : {}),
    assets: { 'provider.zip': codeDirectory },
    template: {
      Resources: {
        Provider: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            FunctionName: `${name}-provider`,
            Code: { S3Bucket: 'assets', S3Key: 'provider.zip' },
            Handler: 'index.provider',
            Runtime: 'nodejs20.x',
            Timeout: 30,
          },
        },
        Slow: {
          Type: 'Custom::Slow',
          Properties: {
            ServiceToken: { 'Fn::GetAtt': ['Provider', 'Arn'] },
            SleepMs: String(options.sleepMs),
            ...(options.importName !== undefined
              ? { Imported: { 'Fn::ImportValue': options.importName } }
              : {}),
          },
        },
      },
      ...(options.exportName !== undefined
        ? { Outputs: { Name: { Value: { Ref: 'Slow' }, Export: { Name: options.exportName } } } }
        : {}),
    },
  };
}

function ranFrom(local: LocalCloud, stackName: string): { start: number; end: number } {
  const attributes = local.deployer.stack(stackName)?.resources.get('Slow')?.attributes ?? {};
  return { start: Number(attributes.Start), end: Number(attributes.End) };
}

describe('deploying an assembly', { timeout: 120_000 }, () => {
  it('deploys independent stacks at the same time and a stack after the stack whose export it imports', async () => {
    const directory = await writeAssembly([
      // 6 s each: room for one provider's cold start on a loaded machine while the other already runs.
      slowStack('speed-left', { sleepMs: 6000, exportName: 'speed-left-name' }),
      slowStack('speed-right', { sleepMs: 6000 }),
      slowStack('speed-after', { sleepMs: 0, importName: 'speed-left-name' }),
    ]);

    const deployed = await local.deploy(directory);

    const left = ranFrom(local, 'speed-left');
    const right = ranFrom(local, 'speed-right');
    const after = ranFrom(local, 'speed-after');
    expect(deployed.map((stack) => stack.stackName)).toEqual(['speed-left', 'speed-right', 'speed-after']);
    expect(right.start).toBeLessThan(left.end);
    expect(left.start).toBeLessThan(right.end);
    expect(after.start).toBeGreaterThanOrEqual(left.end);
  });

  it('still refuses a name that two independent stacks export', async () => {
    const directory = await writeAssembly([
      slowStack('speed-twice-a', { sleepMs: 0, exportName: 'speed-twice' }),
      slowStack('speed-twice-b', { sleepMs: 0, exportName: 'speed-twice' }),
    ]);

    await expect(local.deploy(directory)).rejects.toThrow(DuplicateExportError);
    expect(local.deployer.stack('speed-twice-a')).toBeDefined();
    expect(local.deployer.stack('speed-twice-b')).toBeUndefined();
  });

  it('starts no further stack once one has failed', async () => {
    const directory = await writeAssembly([
      slowStack('speed-broken', { sleepMs: 0, importName: 'speed-nobody-exports-this' }),
      slowStack('speed-dependent', { sleepMs: 0, dependencies: ['speed-broken'] }),
    ]);

    await expect(local.deploy(directory)).rejects.toThrow(/speed-nobody-exports-this/);
    expect(local.deployer.stack('speed-dependent')).toBeUndefined();
  });
});

describe('an emulator started ahead', { timeout: 120_000 }, () => {
  it('is used by LocalCloud.start and stopped with the local cloud', async () => {
    const cloud = await startCloud({ env: {}, handleSignals: false });
    const pid = cloud.pid;

    const ahead = await LocalCloud.start({ cloud, handleSignals: false, onLog: () => {} });
    const endpoint = ahead.motoEndpoint;
    await ahead.stop();

    expect(endpoint).toBe(cloud.endpoint);
    expect(pid).toBeDefined();
    expect(() => process.kill(pid ?? 0, 0)).toThrow();
  });
});
