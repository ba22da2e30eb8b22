/**
 * The package as a user gets it: build, `npm pack`, install the tarball into a fresh project outside
 * the workspace, then type-check (tsc) and run (node) a small plugin written only against the public
 * API: the runtime through the testing harness, and the CDK construct in a synthesized app.
 *
 * Offline and fast: the project's dependencies are `file:` links to the workspace's installed
 * packages, so `npm install --offline` only unpacks the tarball (a few seconds).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const KIT_DIR = fileURLToPath(new URL('..', import.meta.url));
const ROOT_DIR = resolve(KIT_DIR, '..');
const ROOT_MODULES = join(ROOT_DIR, 'node_modules');
const TSC = join(ROOT_MODULES, 'typescript', 'bin', 'tsc');

/** What the temporary project links from the workspace instead of downloading. */
const LINKED = [
  'zod',
  '@aws-sdk/client-sqs',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/lib-dynamodb',
  'aws-cdk-lib',
  'constructs',
  '@types/node',
];
/** Bare imports the built package may use: its dependencies, its peers and Node built-ins. */
const ALLOWED_IMPORT =
  /^(zod|@aws-sdk\/(client-sqs|client-dynamodb|lib-dynamodb)|aws-cdk-lib(\/[a-z0-9-]+)*|constructs|node:[a-z_/]+)$/;

/** npm must not inherit the workspace settings of the npm that started the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^npm_(config|package|lifecycle)_/i.test(key)),
  );
}

async function sh(command: string, args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd, env: cleanEnv(), maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const output = (name: string) => String(Reflect.get(Object(error), name) ?? '').slice(-4000);
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${output('stdout')}\n${output('stderr')}`,
      {
        cause: error,
      },
    );
  }
}

const PLUGIN = `import {
  createStatusReader,
  isPluginError,
  orchestratorWrapperSns,
  PluginError,
  type PluginInfoInput,
} from '@plugboard/plugin-kit';

export const info = { name: 'hello-plugin', default: { mandatory: true } } satisfies PluginInfoInput;
export const status = createStatusReader({ tableName: 'unused-here' });

export const handler = orchestratorWrapperSns(info, async (message, context) => {
  if (message.metadata['fail'] === true) throw new PluginError('asked to fail');
  context.logger.info('greeting', { uid: message.uid });
  return { greeting: \`hello \${message.uid}\`, attempt: context.attempt, plugin: isPluginError(undefined) };
});
`;

const STACK = `import { App, Stack } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { OrchestratorPlugin } from '@plugboard/plugin-kit/cdk';
import { info } from './plugin.js';

export function synthTemplate(outdir: string): Record<string, { Type: string; Properties?: Record<string, unknown> }> {
  const app = new App({ outdir });
  const stack = new Stack(app, 'HelloPlugin');
  const fn = new LambdaFunction(stack, 'Hello', {
    runtime: Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => undefined;'),
  });
  new OrchestratorPlugin(stack, 'HelloPlugin', {
    stage: 'dev',
    activity: 'greet',
    activityStage: 'parallel',
    info,
    filterPolicy: { lang: ['en'] },
    function: fn,
  });
  const template = app.synth().getStackByName('HelloPlugin').template as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  return template.Resources;
}
`;

const MAIN = `import { runPlugin } from '@plugboard/plugin-kit/testing';
import { handler } from './plugin.js';
import { synthTemplate } from './stack.js';

const ok = await runPlugin(handler, { message: { uid: 'u-1' } });
const failed = await runPlugin(handler, { message: { metadata: { fail: true } } });
const again = await runPlugin(handler, { message: { uid: 'u-1' }, table: ok.table });
const resources = Object.values(synthTemplate(process.argv[2] ?? 'cdk.out'));
let deepImport = 'resolved';
try {
  // A computed specifier: tsc would (rightly) refuse the literal one, since it is not exported.
  const internal = ['@plugboard/plugin-kit', 'dist', 'runtime', 'task.js'].join('/');
  await import(internal);
} catch (error) {
  deepImport = String((error as { code?: unknown }).code);
}
const initialize = await handler({ initialize: true });
console.log(
  JSON.stringify({
    ok: { statuses: ok.statuses, result: ok.result },
    failed: failed.finalReport,
    again: again.outcome?.type,
    initialize: initialize?.name,
    types: resources.map((resource) => resource.Type).sort(),
    subscription: resources.find((resource) => resource.Type === 'AWS::SNS::Subscription')?.Properties,
    deepImport,
  }),
);
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023'],
    types: ['node'],
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

let workDir = '';
let projectDir = '';
let tarballFiles: string[] = [];
let output: Record<string, unknown> = {};

describe('the packed @plugboard/plugin-kit', { timeout: 240_000 }, () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'plugboard-pack-'));
    projectDir = join(workDir, 'project');
    await mkdir(join(projectDir, 'src'), { recursive: true });

    await sh('npm', ['run', 'build', '--workspace', 'plugin-kit'], ROOT_DIR);
    const packed: Array<{ filename: string; files: Array<{ path: string }> }> = JSON.parse(
      await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', workDir], KIT_DIR),
    );
    const tarball = join(workDir, packed[0]?.filename ?? '');
    tarballFiles = (packed[0]?.files ?? []).map((file) => file.path);

    const dependencies = Object.fromEntries(LINKED.map((name) => [name, `file:${join(ROOT_MODULES, name)}`]));
    await writeFile(
      join(projectDir, 'package.json'),
      JSON.stringify({ name: 'hello-plugin', version: '1.0.0', private: true, type: 'module', dependencies }),
    );
    await writeFile(join(projectDir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    await writeFile(join(projectDir, 'src', 'plugin.ts'), PLUGIN);
    await writeFile(join(projectDir, 'src', 'stack.ts'), STACK);
    await writeFile(join(projectDir, 'src', 'main.ts'), MAIN);

    await sh(
      'npm',
      ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball],
      projectDir,
    );
    await sh(process.execPath, [TSC, '-p', 'tsconfig.json'], projectDir);
    output = JSON.parse(await sh(process.execPath, ['dist/main.js', join(workDir, 'cdk.out')], projectDir));
  }, 240_000);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('ships the build, its sources for the declaration maps, the README and the CHANGELOG, and no tests', () => {
    expect(tarballFiles).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'CHANGELOG.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/index.d.ts.map',
        'dist/cdk/index.d.ts',
        'dist/testing/index.d.ts',
        'src/index.ts',
      ]),
    );
    expect(tarballFiles.filter((path) => path.startsWith('test/') || path.includes('.test.'))).toEqual([]);
  });

  it('installs outside the workspace with types first in every export', async () => {
    const manifest = JSON.parse(
      await readFile(join(projectDir, 'node_modules', '@plugboard', 'plugin-kit', 'package.json'), 'utf8'),
    );

    expect(manifest.version).toBe('1.0.0');
    expect(Object.keys(manifest.exports)).toEqual(['.', './cdk', './testing', './package.json']);
    for (const entry of ['.', './cdk', './testing']) {
      expect(Object.keys(manifest.exports[entry])[0]).toBe('types');
    }
    expect(relative(ROOT_DIR, projectDir).startsWith(`..${sep}`)).toBe(true);
  });

  it('imports only its own files, its dependencies, its peers and Node built-ins', async () => {
    const distDir = join(projectDir, 'node_modules', '@plugboard', 'plugin-kit', 'dist');
    const files = (await readdir(distDir, { recursive: true })).filter((file) => file.endsWith('.js'));
    const outside: string[] = [];
    const seen = new Set<string>();
    // Statements only: TSDoc examples in comments import the package by name.
    const statements =
      /^(?:import|export)\b[^;'"]*?\bfrom\s*'([^']+)'|^import\s*'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;
    for (const file of files) {
      const code = await readFile(join(distDir, file), 'utf8');
      for (const [, from, sideEffect, call] of code.matchAll(statements)) {
        const specifier = from ?? sideEffect ?? call ?? '';
        seen.add(specifier);
        const escapes =
          specifier.startsWith('.') && !resolve(distDir, file, '..', specifier).startsWith(distDir);
        if (escapes || (!specifier.startsWith('.') && !ALLOWED_IMPORT.test(specifier))) {
          outside.push(`${file}: ${specifier}`);
        }
      }
    }

    expect([...seen]).toEqual(
      expect.arrayContaining(['zod', '@aws-sdk/client-sqs', 'aws-cdk-lib', './contracts/index.js']),
    );
    expect(files.length).toBeGreaterThan(10);
    expect(outside).toEqual([]);
  });

  it('runs a plugin written against the public API through the testing harness', () => {
    expect(output.ok).toEqual({
      statuses: ['In Progress', 'Complete'],
      result: { greeting: 'hello u-1', attempt: 1, plugin: false },
    });
    expect(output.failed).toMatchObject({ status: 'Error', retryable: false, message: 'asked to fail' });
    expect(output.again).toBe('skipped');
    expect(output.initialize).toBe('hello-plugin');
  });

  it('synthesizes an app with the OrchestratorPlugin construct', () => {
    expect(output.types).toEqual([
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::Function',
      'AWS::Lambda::Permission',
      'AWS::SNS::Subscription',
      'Custom::PlugboardPluginRegistration',
    ]);
    expect(output.subscription).toMatchObject({
      FilterPolicy: { lang: ['en'], plugins: ['hello-plugin'] },
      TopicArn: { 'Fn::ImportValue': 'plugboard-dev-greet-parallel-processing' },
    });
  });

  it('keeps its internals private behind the exports map', () => {
    expect(output.deepImport).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
