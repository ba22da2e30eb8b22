/**
 * `@plugboard/cli` as a user outside this repository gets it: `npm pack` of packages/cli (its prepack
 * builds the bundle), installed from the tarball into a fresh project under the OS temp folder, run
 * with `npx plugboard`: `--version`, `--help`, and, against the engine on a private moto (cli-harness),
 * `start`, `list` and `status` from a sub-directory of the project that holds the local state file,
 * and the undeclared-workflow error naming the declared ones (from the state's `config`: the project
 * has no plugboard.config.ts, and the bundle could not load one).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLocalState, writeLocalState } from '../../bin/cli/local-state.js';
import { useMoto } from '../support/moto.js';
import { ACTIVITIES, type CliResult, type CliWorld, createCliWorld, WORKFLOW } from './cli-harness.js';

const REPO = resolve(import.meta.dirname, '../..');
const PACKAGE = join(REPO, 'packages/cli');
/** npm and npx start Node.js processes (seconds each on a loaded machine), the pack also bundles. */
const SLOW = { timeout: 180_000 } as const;

const moto = useMoto();
let world: CliWorld;
let scratch: string;
let project: string;
let deep: string;
let version: string;

/** Runs a command with only the environment a user's shell would give (no npm_*, no state variable). */
function sh(
  command: string,
  args: readonly string[],
  cwd: string,
  extraEnv: Record<string, string> = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        AWS_ACCESS_KEY_ID: 'testing',
        AWS_SECRET_ACCESS_KEY: 'testing',
        AWS_EC2_METADATA_DISABLED: 'true',
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** `npx --no-install plugboard …` (never the registry) from `cwd`. */
const plugboard = (args: readonly string[], cwd = deep) =>
  sh('npx', ['--no-install', 'plugboard', ...args], cwd);

function ok(result: CliResult, what: string): CliResult {
  if (result.code !== 0)
    throw new Error(`${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

beforeAll(async () => {
  version = (JSON.parse(await readFile(join(PACKAGE, 'package.json'), 'utf8')) as { version: string })
    .version;
  scratch = await realpath(await mkdtemp(join(tmpdir(), 'plugboard-cli-package-')));
  expect(relative(REPO, scratch).startsWith('..')).toBe(true);

  const packed = ok(await sh('npm', ['pack', '--json', '--pack-destination', scratch], PACKAGE), 'npm pack');
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];

  project = join(scratch, 'my-plugins');
  deep = join(project, 'src', 'plugins');
  await mkdir(deep, { recursive: true });
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'my-plugins', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  ok(
    await sh('npm', ['install', '--no-audit', '--no-fund', join(scratch, filename)], project),
    'npm install',
  );

  // The engine on moto behind a Lambda Invoke endpoint, and its state file, as `npm start -- --keep`
  // writes it, at the project's root.
  world = await createCliWorld(moto.endpoint);
  const state = await readLocalState(world.statePath);
  await writeLocalState(join(project, '.plugboard', 'local.json'), {
    ...state,
    config: { workflows: { [WORKFLOW]: ACTIVITIES }, activities: {} },
  });
}, 300_000);

afterAll(async () => {
  await world?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('@plugboard/cli from its tarball', SLOW, () => {
  it('installs as compiled JavaScript with no runtime dependencies (no tsx)', async () => {
    const installed = join(project, 'node_modules', '@plugboard', 'cli');
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;

    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.bin).toEqual({ plugboard: 'dist/plugboard.js' });
    expect((await readdir(join(installed, 'dist'))).filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false);
    expect((await readdir(join(project, 'node_modules'))).filter((name) => !name.startsWith('.'))).toEqual([
      '@plugboard',
    ]);
  });

  it('prints the package version with --version, and the usage with --help', async () => {
    const [shown, help] = await Promise.all([plugboard(['--version']), plugboard(['--help'])]);

    expect(ok(shown, '--version').stdout.trim()).toBe(version);
    expect(ok(help, '--help').stdout).toContain('Usage: plugboard [options] [command]');
    expect(help.stdout).toMatch(/-V, --version +print the version/);
    expect(help.stdout).toContain('PLUGBOARD_LOCAL_STATE');
  });

  it('finds the state file from a sub-directory, starts a run and shows its status', async () => {
    const started = ok(await plugboard(['--local', 'start', WORKFLOW, '--uid', 'pkg-1']), 'start');
    expect(started.stdout).toContain(`Started run ${WORKFLOW}/pkg-1 (generation 1).`);
    // The SDK's Node.js version warning stays off, as in bin/plugboard.js.
    expect(started.stderr).not.toContain('NodeVersionSupportWarning');
    await world.orchestra.runUntilSettled({ workflow: WORKFLOW, uid: 'pkg-1' });

    const status = ok(await plugboard(['--local', 'status', WORKFLOW, 'pkg-1']), 'status');
    expect(status.stdout).toMatch(/^order \/ pkg-1 {2}Complete {2}generation 1/);
    expect(status.stdout).toContain('result: {"valid":true}');
  });

  it('lists the workflows the state file declares without --workflow', async () => {
    const listed = ok(await plugboard(['--local', 'list', '--json']), 'list');

    const { runs } = JSON.parse(listed.stdout) as { runs: { workflow: string; uid: string }[] };
    expect(runs).toContainEqual(expect.objectContaining({ workflow: WORKFLOW, uid: 'pkg-1' }));
  });

  it('refuses an undeclared workflow naming the declared ones', async () => {
    const result = await plugboard(['--local', 'status', 'invoice', 'pkg-1']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Unknown workflow "invoice": the local cloud's deployment declares "order".`,
    );
  });

  it("skips a plugboard.config.ts it cannot load (TypeScript) for the state file's workflows", async () => {
    // This repository's root has one; the bundle, without a TypeScript loader, cannot import it.
    expect(existsSync(join(REPO, 'plugboard.config.ts'))).toBe(true);

    const result = await sh(
      join(project, 'node_modules', '.bin', 'plugboard'),
      ['--local', 'status', 'invoice', 'x'],
      REPO,
      {
        PLUGBOARD_LOCAL_STATE: join(project, '.plugboard', 'local.json'),
      },
    );

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `Unknown workflow "invoice": the local cloud's deployment declares "order".`,
    );
  });

  it('says how to get a state file when none is found up to the root', async () => {
    const outside = await mkdtemp(join(scratch, 'elsewhere-'));
    // The walk would find the project's file only from inside the project.
    expect(dirname(outside)).toBe(scratch);

    const result = await sh(join(project, 'node_modules', '.bin', 'plugboard'), ['--local', 'list'], outside);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no .plugboard/local.json in ${outside} or any folder above it`);
    expect(result.stderr).toContain('npm start -- --keep');
    expect(result.stderr).toContain('PLUGBOARD_LOCAL_STATE');
  });
});
