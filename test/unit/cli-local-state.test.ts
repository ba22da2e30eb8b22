/**
 * The local cloud's state file: written atomically (mode 0600) by the local cloud, found by walking up
 * from the current directory, read and validated by the CLI; and the declared workflows the CLI checks
 * names against outside the checkout (the state's `config`, or the start function's PLUGBOARD_CONFIG).
 */

import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Deployment, isLocal, localRef } from '../../bin/cli/deployment.js';
import { DeploymentError } from '../../bin/cli/errors.js';
import {
  findLocalState,
  loadLocalState,
  localStatePath,
  readLocalState,
  writeLocalState,
} from '../../bin/cli/local-state.js';
import {
  checkWorkflow,
  configuredWorkflows,
  declaredConfig,
  deployedConfig,
  UnknownWorkflowError,
} from '../../bin/cli/workflows.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'plugboard-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local state file', () => {
  it('round-trips what writeLocalState writes, creating the folder and defaulting the region', async () => {
    const path = join(dir, '.plugboard', 'local.json');

    await writeLocalState(path, { endpoint: 'http://127.0.0.1:5000', exports: { a: 'b' } });
    const state = await readLocalState(path);

    expect(state).toMatchObject({
      endpoint: 'http://127.0.0.1:5000',
      region: 'us-east-1',
      exports: { a: 'b' },
    });
    expect(state.writtenAt).toEqual(expect.any(String));
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ exports: { a: 'b' } });
  });

  it('refuses an invalid state with a deployment error naming the field', async () => {
    const path = join(dir, 'local.json');
    await writeFile(path, JSON.stringify({ endpoint: 'not a url', exports: {} }));

    await expect(readLocalState(path)).rejects.toThrow(DeploymentError);
    await expect(readLocalState(path)).rejects.toThrow(/endpoint/);
    await expect(writeLocalState(path, { endpoint: 'nope', exports: {} })).rejects.toThrow();
  });

  it('resolves the path from PLUGBOARD_LOCAL_STATE or .plugboard/local.json', () => {
    expect(localStatePath({}, '/repo')).toBe('/repo/.plugboard/local.json');
    expect(localStatePath({ PLUGBOARD_LOCAL_STATE: 'x/state.json' }, '/repo')).toBe('/repo/x/state.json');
  });

  it('writes the file readable by its owner only, also over an existing file', async () => {
    const path = join(dir, '.plugboard', 'local.json');
    await mkdir(join(dir, '.plugboard'));
    await writeFile(path, '{}', { mode: 0o644 });
    await chmod(path, 0o644);

    await writeLocalState(path, { endpoint: 'http://127.0.0.1:5000', exports: {} });

    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('finds .plugboard/local.json in the current directory or the nearest parent', async () => {
    const deep = join(dir, 'project', 'packages', 'plugin', 'src');
    await mkdir(deep, { recursive: true });
    expect(findLocalState({}, deep)).toBeUndefined();

    await writeLocalState(join(dir, '.plugboard', 'local.json'), {
      endpoint: 'http://127.0.0.1:1',
      exports: {},
    });
    expect(findLocalState({}, deep)).toBe(join(dir, '.plugboard', 'local.json'));

    // The nearest one wins.
    const nearer = join(dir, 'project', '.plugboard', 'local.json');
    await writeLocalState(nearer, { endpoint: 'http://127.0.0.1:2', exports: { near: 'yes' } });
    expect(findLocalState({}, deep)).toBe(nearer);
    expect(findLocalState({}, join(dir, 'project'))).toBe(nearer);
    expect((await loadLocalState({}, deep)).exports).toEqual({ near: 'yes' });
  });

  it('takes PLUGBOARD_LOCAL_STATE over the walk, relative to the current directory', async () => {
    await writeLocalState(join(dir, '.plugboard', 'local.json'), {
      endpoint: 'http://127.0.0.1:1',
      exports: {},
    });

    expect(findLocalState({ PLUGBOARD_LOCAL_STATE: 'elsewhere.json' }, dir)).toBe(
      join(dir, 'elsewhere.json'),
    );
    await expect(loadLocalState({ PLUGBOARD_LOCAL_STATE: 'elsewhere.json' }, dir)).rejects.toThrow(
      /No local cloud state at .*elsewhere\.json.*npm start -- --keep.*PLUGBOARD_LOCAL_STATE/,
    );
  });

  it('says where it looked and how to get a state file when there is none', async () => {
    const deep = join(dir, 'a', 'b');
    await mkdir(deep, { recursive: true });

    const failure = loadLocalState({}, deep);

    await expect(failure).rejects.toThrow(DeploymentError);
    await expect(failure).rejects.toThrow(`no .plugboard/local.json in ${deep} or any folder above it`);
    await expect(failure).rejects.toThrow('npm start -- --keep');
    await expect(failure).rejects.toThrow('PLUGBOARD_LOCAL_STATE');
  });

  it('keeps the deployed workflow config, and refuses one of the wrong shape', async () => {
    const path = join(dir, 'local.json');
    const config = { workflows: { order: ['intake'] }, activities: { intake: { maxAttempts: 2 } } };
    await writeLocalState(path, { endpoint: 'http://127.0.0.1:5000', exports: {}, config });

    expect((await readLocalState(path)).config).toEqual(config);
    await writeFile(
      path,
      JSON.stringify({ endpoint: 'http://127.0.0.1:5000', exports: {}, config: { workflows: 'order' } }),
    );
    await expect(readLocalState(path)).rejects.toThrow(/config\.workflows/);
  });

  it('is local mode with --local or AWS_ENDPOINT_URL, AWS otherwise', () => {
    expect(isLocal({ local: true }, {})).toBe(true);
    expect(isLocal({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' })).toBe(true);
    expect(isLocal({}, {})).toBe(false);
  });
});

describe('localRef', () => {
  const exportsOf = (...prefixes: string[]) =>
    Object.fromEntries(prefixes.map((p) => [`${p}-status-table-name`, 't']));
  const defaults = { stage: 'dev', system: 'plugboard', explicit: { stage: false, system: false } };

  it('uses the only deployment of the local cloud when --stage and --system are defaulted', () => {
    expect(localRef(defaults, exportsOf('plugboard-local'))).toEqual({
      systemName: 'plugboard',
      stage: 'local',
    });
    expect(localRef(defaults, exportsOf('my-app-qa'))).toEqual({ systemName: 'my-app', stage: 'qa' });
  });

  it('keeps the requested deployment when it exists, when given explicitly, or when several exist', () => {
    expect(localRef(defaults, exportsOf('plugboard-dev', 'plugboard-local'))).toEqual({
      systemName: 'plugboard',
      stage: 'dev',
    });
    expect(localRef(defaults, exportsOf('plugboard-qa', 'plugboard-local'))).toEqual({
      systemName: 'plugboard',
      stage: 'dev',
    });
    expect(
      localRef(
        { ...defaults, stage: 'prod', explicit: { stage: true, system: true } },
        exportsOf('plugboard-local'),
      ),
    ).toEqual({ systemName: 'plugboard', stage: 'prod' });
    expect(
      localRef(
        { ...defaults, stage: 'qa', explicit: { stage: true, system: false } },
        exportsOf('x-qa', 'y-local'),
      ),
    ).toEqual({ systemName: 'x', stage: 'qa' });
  });
});

describe('declared workflows outside the checkout', () => {
  const ref = { systemName: 'plugboard', stage: 'dev' };
  const localContext = () => {
    const deployment = new Deployment(ref, 'local', {}, {}, {});
    return { deployment: async () => deployment };
  };

  it('come from the state file found by walking up, and name the declared ones for an unknown name', async () => {
    const cwd = join(dir, 'project', 'src');
    await mkdir(cwd, { recursive: true });
    await writeLocalState(join(dir, 'project', '.plugboard', 'local.json'), {
      endpoint: 'http://127.0.0.1:5000',
      exports: {},
      config: { workflows: { order: ['intake', 'fulfilment'], refund: ['intake'] }, activities: {} },
    });
    const ctx = localContext();

    await expect(checkWorkflow('order', ctx, cwd)).resolves.toBeUndefined();
    const failure = checkWorkflow('invoice', ctx, cwd);
    await expect(failure).rejects.toBeInstanceOf(UnknownWorkflowError);
    await expect(failure).rejects.toThrow(
      `Unknown workflow "invoice": the local cloud's deployment declares "order", "refund".`,
    );
    await expect(configuredWorkflows(ctx, cwd)).resolves.toEqual(['order', 'refund']);
    // The engine's defaults fill in what the config leaves out.
    expect((await declaredConfig(ctx, cwd))?.activities.fulfilment).toEqual({
      deadlineSeconds: expect.any(Number),
      maxAttempts: expect.any(Number),
      retryBaseSeconds: expect.any(Number),
    });
  });

  it('accept every name when the state file has no config, but list needs --workflow', async () => {
    await writeLocalState(join(dir, '.plugboard', 'local.json'), {
      endpoint: 'http://127.0.0.1:5000',
      exports: {},
    });
    const ctx = localContext();

    await expect(checkWorkflow('anything', ctx, dir)).resolves.toBeUndefined();
    await expect(configuredWorkflows(ctx, dir)).rejects.toThrow('pass --workflow <name>');
  });

  describe('on AWS, from the start function (GetFunctionConfiguration)', () => {
    let server: Server;
    let answer: { status: number; headers?: Record<string, string>; body: unknown };
    let requested: string[];
    beforeEach(async () => {
      requested = [];
      server = createServer((request, response) => {
        requested.push(`${request.method} ${request.url}`);
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        response.end(JSON.stringify(answer.body));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });
    const awsDeployment = () => {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const config = {
        region: 'us-east-1',
        endpoint,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      };
      return new Deployment(
        ref,
        'aws',
        { 'plugboard-dev-start-function-name': 'plugboard-dev-start' },
        config,
        config,
      );
    };

    it("reads the workflows from the start function's PLUGBOARD_CONFIG", async () => {
      const packed = { workflows: { order: ['intake'] }, activities: { intake: { deadlineSeconds: 30 } } };
      answer = {
        status: 200,
        body: {
          FunctionName: 'plugboard-dev-start',
          Environment: { Variables: { PLUGBOARD_CONFIG: JSON.stringify(packed) } },
        },
      };
      const deployment = awsDeployment();
      try {
        const config = await deployedConfig(deployment);
        expect(config?.workflows).toEqual({ order: ['intake'] });
        expect(config?.activities.intake?.deadlineSeconds).toBe(30);
        expect(config?.source).toContain('PLUGBOARD_CONFIG of plugboard-dev-start');
        expect(requested).toEqual(['GET /2015-03-31/functions/plugboard-dev-start/configuration']);
      } finally {
        deployment.destroy();
      }
    });

    it('accepts every name without the permission to read it, and refuses a malformed config', async () => {
      answer = {
        status: 403,
        headers: { 'x-amzn-errortype': 'AccessDeniedException' },
        body: { message: 'not authorized to perform: lambda:GetFunctionConfiguration' },
      };
      const deployment = awsDeployment();
      try {
        await expect(deployedConfig(deployment)).resolves.toBeUndefined();
        answer = {
          status: 200,
          body: { Environment: { Variables: { PLUGBOARD_CONFIG: '{"workflows":1}' } } },
        };
        await expect(deployedConfig(deployment)).rejects.toThrow(/PLUGBOARD_CONFIG of an unexpected shape/);
      } finally {
        deployment.destroy();
      }
    });
  });
});
