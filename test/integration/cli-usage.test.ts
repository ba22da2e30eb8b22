/**
 * The CLI's contract with scripts and people, without a deployment: help with an example per command,
 * usage errors exit 2 before anything is read, a missing deployment exits 1 with what to do.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { runCli } from './cli-harness.js';

const COMMANDS = [
  ['start'],
  ['status'],
  ['watch'],
  ['retry'],
  ['cancel'],
  ['skip'],
  ['list'],
  ['plugins'],
  ['events', 'tail'],
  ['credentials'],
  ['deploy'],
  ['destroy'],
] as const;

/** Every case starts Node.js processes, several at once: seconds each on a loaded machine. */
const CLI_TIMEOUT = { timeout: 120_000 } as const;

describe.concurrent('plugboard --help', CLI_TIMEOUT, () => {
  it('lists every command and the exit codes, and exits 0', async ({ expect }) => {
    const result = await runCli(['--help']);

    expect(result.code).toBe(0);
    for (const [command] of COMMANDS) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(result.stdout).toContain('Exit codes: 0 ok, 1 failure or not found, 2 usage error.');
  });

  it('shows an example for every command', async ({ expect }) => {
    const results = await Promise.all(COMMANDS.map((command) => runCli([...command, '--help'])));

    results.forEach((result, i) => {
      expect(result.code, COMMANDS[i]?.join(' ')).toBe(0);
      expect(result.stdout, COMMANDS[i]?.join(' ')).toMatch(/Example[^:]*:\n {2}\$ npx plugboard /);
    });
  });
});

describe('usage errors exit 2 and say what is wrong', CLI_TIMEOUT, () => {
  const cases: readonly { args: string[]; message: string }[] = [
    { args: ['frobnicate'], message: "unknown command 'frobnicate'" },
    { args: ['status', 'order', 'u-1', '--colour'], message: "unknown option '--colour'" },
    { args: ['status', 'order'], message: "missing required argument 'uid'" },
    { args: ['start', 'order'], message: "required option '--uid <id>' not specified" },
    {
      args: ['start', 'order', '--uid', 'u', '--metadata', '{nope'],
      message: '--metadata is not valid JSON',
    },
    {
      args: ['start', 'order', '--uid', 'u', '--metadata', '[1]'],
      message: '--metadata must be a JSON object',
    },
    {
      args: ['start', 'order', '--uid', 'u', '--metadata', '@/nonexistent.json'],
      message: '--metadata: cannot read',
    },
    { args: ['watch', 'order', 'u', '--interval', 'fast'], message: '--interval "fast" is not a duration' },
    { args: ['list', '--workflow', 'order', '--state', 'weird'], message: '--state "weird" is not one of' },
    {
      args: ['list', '--workflow', 'order', '--limit', '0'],
      message: '--limit must be a whole number from 1 to 1000',
    },
    {
      args: ['list', '--workflow', 'order', '--since', 'yesterday'],
      message: '--since "yesterday" is neither',
    },
    { args: ['list', '--next-token', 'abc'], message: 'pass --workflow too' },
    {
      args: ['skip', 'order', 'u', 'intake', 'middle', 'p'],
      message: 'Stage "middle" is not one of pre, parallel, post',
    },
    { args: ['plugins', '--stage-name', 'late'], message: 'Stage "late" is not one of' },
  ];

  it.concurrent.for(cases)('plugboard $args.0 … → "$message"', async ({ args, message }, { expect }) => {
    const result = await runCli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe.concurrent('an unreachable deployment exits 1 with what to do', CLI_TIMEOUT, () => {
  it('names the missing local state file and how to start the local cloud', async ({ expect }) => {
    const result = await runCli(['--local', 'status', 'order', 'u-1'], {
      PLUGBOARD_LOCAL_STATE: '/nonexistent/local.json',
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No local cloud state at /nonexistent/local.json');
    expect(result.stderr).toContain('(npm start -- --keep)');
  });

  it('treats AWS_ENDPOINT_URL as local mode', async ({ expect }) => {
    const result = await runCli(['status', 'order', 'u-1'], {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      PLUGBOARD_LOCAL_STATE: '/nonexistent/local.json',
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No local cloud state');
  });

  it('says when the local cloud is not running, and shows the stack only with --debug', async ({
    expect,
  }) => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-cli-'));
    const state = join(dir, 'local.json');
    await writeFile(
      state,
      JSON.stringify({
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        exports: { 'plugboard-dev-status-table-name': 't' },
      }),
    );
    try {
      const [plain, debug] = await Promise.all([
        runCli(['--local', 'status', 'order', 'u-1'], { PLUGBOARD_LOCAL_STATE: state }),
        runCli(['--local', '--debug', 'status', 'order', 'u-1'], { PLUGBOARD_LOCAL_STATE: state }),
      ]);

      expect(plain.code).toBe(1);
      expect(plain.stderr).toContain('Is the local cloud running?');
      expect(plain.stderr).not.toMatch(/\n\s+at /);
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(/\n\s+at /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the export the deployment lacks', async ({ expect }) => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-cli-'));
    const state = join(dir, 'local.json');
    await writeFile(state, JSON.stringify({ endpoint: 'http://127.0.0.1:9', exports: {} }));
    try {
      const result = await runCli(['--local', '--stage', 'qa', 'status', 'order', 'u-1'], {
        PLUGBOARD_LOCAL_STATE: state,
      });

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Export "plugboard-qa-status-table-name" not found');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('points at --stage-name when --stage is given an activity stage (plugins --stage parallel)', async ({
    expect,
  }) => {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-cli-'));
    const state = join(dir, 'local.json');
    await writeFile(state, JSON.stringify({ endpoint: 'http://127.0.0.1:9', exports: {} }));
    try {
      const result = await runCli(['--local', 'plugins', '--stage', 'parallel'], {
        PLUGBOARD_LOCAL_STATE: state,
      });

      expect(result.code).toBe(1);
      expect(result.stderr).toContain('For the activity stage "parallel", use --stage-name parallel.');
      expect(result.stderr).not.toContain('--activity');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('asks for a region in AWS mode when none is configured', async ({ expect }) => {
    const result = await runCli(['status', 'order', 'u-1']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No AWS region');
  });
});
