/**
 * The plugin author's loop, from outside this repository: a plugin project under the system's temp
 * folder, built from the packed kit tarball (`npm pack`), with its own tiny CDK app (the kit's
 * `PluginFunction` and `OrchestratorPlugin`) synthesized with the CDK CLI to `cdk.out`, is deployed
 * with `plugboard --local deploy` into a running local cloud (started here, with its control
 * endpoint and state file as `npm start -- --keep` writes them), runs in an `order` run (its result
 * in `plugboard --local status`), acts with `plugboard --local credentials` (its role cannot write
 * the status table; its report's `SenderId` is its role id), and is destroyed (deregistered).
 *
 * Offline: the project's packages are `file:` links to the workspace's installed ones (as in
 * plugin-kit/test/pack.test.ts); the CDK CLI runs with the hygiene of docs/local-cloud.md.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLocalState } from '../../bin/cli/local-state.js';
import type { ProxiedRequest } from '../../local/aws-proxy.js';
import { ControlServer } from '../../local/control.js';
import { synthDemo } from '../../local/demo/synth.js';
import { LocalCloud } from '../../local/local-cloud.js';
import { E2E_STAGE } from '../e2e/fixture.js';
import { json, runCli } from './cli-harness.js';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const ROOT_MODULES = join(ROOT, 'node_modules');
const KIT_DIR = join(ROOT, 'plugin-kit');
const STACK = 'external-audit-plugins';
const PLUGIN = 'external-audit';
/** What the project links from the workspace instead of downloading. */
const LINKED = [
  'zod',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/lib-dynamodb',
  'aws-cdk-lib',
  'constructs',
  'aws-cdk',
  'esbuild',
];

/** The plugin: ESM, against the kit's public API only. */
const HANDLER = `import { orchestratorWrapperSns } from '@plugboard/plugin-kit';

export const info = { name: '${PLUGIN}', default: { mandatory: true } };

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  context.logger.info('audited', { uid: message.uid });
  return { auditedBy: 'an outside team', uid: message.uid };
});
`;

/** The plugin team's CDK app. */
const APP = `import { App, Duration, Stack } from 'aws-cdk-lib';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { OrchestratorPlugin, PluginFunction } from '@plugboard/plugin-kit/cdk';
import { info } from './src/audit.mjs';

const app = new App();
const stack = new Stack(app, '${STACK}');
const fn = new PluginFunction(stack, 'AuditFn', {
  entry: 'src/audit.mjs',
  timeout: Duration.seconds(10),
  bundling: {
    format: OutputFormat.ESM,
    target: 'node20',
    banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
});
new OrchestratorPlugin(stack, 'AuditPlugin', {
  stage: '${E2E_STAGE}',
  activity: 'notify',
  activityStage: 'parallel',
  info,
  function: fn,
});
`;

/** npm and the CDK must not inherit the settings of the npm that started the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([key]) => !/^npm_(config|package|lifecycle)_/i.test(key) && !key.startsWith('AWS_ENDPOINT_URL'),
      ),
    ),
    ...extra,
  };
}

async function sh(command: string, args: readonly string[], cwd: string, env = cleanEnv()): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const output = (name: string) => String(Reflect.get(Object(error), name) ?? '').slice(-3000);
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${output('stdout')}\n${output('stderr')}`,
      {
        cause: error,
      },
    );
  }
}

/** Packs the kit and builds the plugin project's `cdk.out`; returns the assembly directory. */
async function buildPluginProject(workDir: string): Promise<{ projectDir: string; assembly: string }> {
  const projectDir = join(workDir, 'audit-plugin');
  await mkdir(join(projectDir, 'src'), { recursive: true });
  await sh('npm', ['run', 'build', '--workspace', 'plugin-kit'], ROOT);
  const packed = JSON.parse(
    await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', workDir], KIT_DIR),
  ) as { filename: string }[];
  const tarball = join(workDir, packed[0]?.filename ?? '');
  const dependencies = Object.fromEntries(LINKED.map((name) => [name, `file:${join(ROOT_MODULES, name)}`]));
  await writeFile(
    join(projectDir, 'package.json'),
    JSON.stringify({ name: 'audit-plugin', version: '1.0.0', private: true, type: 'module', dependencies }),
  );
  await writeFile(
    join(projectDir, 'cdk.json'),
    JSON.stringify({ app: 'node app.mjs', notices: false, context: { 'cli-telemetry': false } }),
  );
  await writeFile(join(projectDir, 'app.mjs'), APP);
  await writeFile(join(projectDir, 'src', 'audit.mjs'), HANDLER);
  await sh(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
    projectDir,
  );
  const assembly = join(projectDir, 'cdk.out');
  await sh(
    process.execPath,
    [join(projectDir, 'node_modules', 'aws-cdk', 'bin', 'cdk'), 'synth', '--quiet', '-o', assembly],
    projectDir,
    cleanEnv({ CDK_DISABLE_VERSION_CHECK: '1', CDK_HOME: join(projectDir, '.cdk-home') }),
  );
  return { projectDir, assembly };
}

let workDir = '';
let projectDir = '';
let assembly = '';
let local: LocalCloud | undefined;
let control: ControlServer | undefined;
let cliEnv: Record<string, string> = {};
/** `SenderId`s of the messages received from the notify parallel inbox. */
const senders = new Set<string>();

function collectSenders(request: ProxiedRequest): void {
  if (request.service !== 'sqs' || request.operation !== 'ReceiveMessage' || request.status !== 200) return;
  if (!request.requestBody.includes('notify-parallel-inbox')) return;
  const body = JSON.parse(request.responseBody) as { Messages?: { Attributes?: { SenderId?: string } }[] };
  for (const message of body.Messages ?? []) {
    if (message.Attributes?.SenderId !== undefined) senders.add(message.Attributes.SenderId);
  }
}

const cli = (args: readonly string[]) => runCli(['--local', ...args], cliEnv);

describe('plugboard --local deploy of a plugin project outside the repository', { timeout: 600_000 }, () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'plugboard-external-'));
    const statePath = join(workDir, 'local.json');
    cliEnv = { PLUGBOARD_LOCAL_STATE: statePath };
    const starting = (async () => {
      const cloud = await LocalCloud.start({
        env: {},
        handleSignals: false,
        scheduleSpeedUp: 10,
        asyncRetryDelaysSeconds: [0],
        defaultConcurrency: 2,
        pollersPerEventSource: 1,
        initTimeoutMs: 60_000,
        onLog: () => {},
        onRequest: collectSenders,
      });
      local = cloud;
      await cloud.deploy(synthDemo({ stage: E2E_STAGE }).app);
      let server: ControlServer | undefined;
      const writeState = () =>
        writeLocalState(statePath, {
          endpoint: cloud.endpoint,
          lambdaEndpoint: cloud.lambdaEndpoint,
          region: cloud.clientConfig().region,
          exports: cloud.exports(),
          ...(server !== undefined ? { control: server.state } : {}),
        });
      server = await ControlServer.start({ cloud, onChange: writeState });
      control = server;
      await writeState();
    })();
    starting.catch(() => undefined);
    ({ projectDir, assembly } = await buildPluginProject(workDir));
    await starting;
  }, 600_000);

  afterAll(async () => {
    await control?.close();
    await local?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('is a project outside the repository with its own synthesized assembly', () => {
    expect(relative(ROOT, projectDir).startsWith(`..${sep}`)).toBe(true);
    expect(assembly.startsWith(tmpdir())).toBe(true);
  });

  it('deploys with its imports resolved, its function hosted and its plugin registered; again = update', async () => {
    const first = await cli(['deploy', assembly]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^created ${STACK}: \\d+ resources, 1 functions`, 'm'));

    const again = json<{ stacks: { stackName: string; action: string }[] }>(
      await cli(['--json', 'deploy', assembly]),
    );
    expect(again.stacks).toEqual([expect.objectContaining({ stackName: STACK, action: 'updated' })]);

    const plugins = json<unknown>(await cli(['--json', 'plugins', '--activity', 'notify']));
    expect(JSON.stringify(plugins)).toContain(PLUGIN);
  });

  it('runs in an order run, its result visible in plugboard --local status', async () => {
    const started = await cli(['start', 'order', '--uid', 'external-1']);
    expect(started.code, started.stderr).toBe(0);

    let snapshot: { run: { state: string }; plugins: { plugin: string; state: string; result?: unknown }[] } =
      {
        run: { state: 'In Progress' },
        plugins: [],
      };
    for (const deadline = Date.now() + 240_000; Date.now() < deadline; ) {
      snapshot = json(await cli(['--json', 'status', 'order', 'external-1']));
      if (snapshot.run.state !== 'In Progress') break;
      await new Promise((resolvePromise) => setTimeout(resolvePromise, 1000));
    }
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins.find((entry) => entry.plugin === PLUGIN)).toMatchObject({
      state: 'Complete',
      result: { auditedBy: 'an outside team', uid: 'external-1' },
    });
    const tree = await cli(['status', 'order', 'external-1']);
    expect(tree.stdout).toContain(PLUGIN);
  });

  it('acts as the plugin with its credentials: it cannot write the status table; its report carries its role id', async () => {
    const listed = json<{ functionName: string; roleArn: string; roleId: string }[]>(
      await cli(['--json', 'credentials', '--list']),
    );
    const audit = listed.find((entry) => entry.functionName.includes('AuditFn'));
    expect(audit?.roleArn).toMatch(new RegExp(`^arn:aws:iam::123456789012:role/${STACK}-AuditFnServiceRole`));
    const own = json<{ accessKeyId: string; secretAccessKey: string; sessionToken: string; roleId: string }>(
      await cli(['--json', 'credentials', 'AuditFn']),
    );
    expect(own.roleId).toBe(audit?.roleId);

    const exported = await cli(['credentials', 'AuditFn', '--export']);
    expect(exported.stdout).toContain(`export AWS_SESSION_TOKEN='${own.sessionToken}'`);
    const unknown = await cli(['credentials', 'no-such-function']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/No function "no-such-function".*Functions: .*AuditFn/);

    const table = String(local?.exports()[`plugboard-${E2E_STAGE}-status-table-name`]);
    const dynamodb = new DynamoDBClient({
      ...local?.clientConfig(),
      credentials: {
        accessKeyId: own.accessKeyId,
        secretAccessKey: own.secretAccessKey,
        sessionToken: own.sessionToken,
      },
      maxAttempts: 1,
    });
    try {
      await expect(
        dynamodb.send(
          new PutItemCommand({ TableName: table, Item: { pk: { S: 'RUN#forged' }, sk: { S: 'RUN' } } }),
        ),
      ).rejects.toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });
    } finally {
      dynamodb.destroy();
    }
    expect([...senders]).toContain(`${own.roleId}:${audit?.functionName}`);
  });

  it('is destroyed: deregistered through the registrar, its function stopped; destroying again says so', async () => {
    const functionName = local?.runner.functions().find((f) => f.name.includes('AuditFn'))?.name ?? '';
    expect(functionName).not.toBe('');

    const destroyed = await cli(['destroy', STACK]);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    expect(destroyed.stdout).toMatch(new RegExp(`^destroyed ${STACK}: \\d+ resources`, 'm'));
    expect(local?.runner.has(functionName)).toBe(false);
    expect(local?.runner.snsSubscriptions().some((s) => s.functionName === functionName)).toBe(false);
    const plugins = json<unknown>(await cli(['--json', 'plugins', '--activity', 'notify']));
    expect(JSON.stringify(plugins)).not.toContain(PLUGIN);

    const again = await cli(['destroy', STACK]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Stack ${STACK} is not deployed in the local cloud: nothing to destroy`);
  });
});
