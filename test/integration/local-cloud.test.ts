import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MOTO_INSTALL_COMMAND, MotoStartError, MotoUnavailableError, startCloud } from '../../local/index.js';
import { sleep } from '../fixtures/local/harness.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const CHILD = fileURLToPath(new URL('../fixtures/local/start-cloud-child.ts', import.meta.url));

/**
 * Whether the process is still running. A zombie is not: it has exited and only waits for its
 * parent (init, once the host process is gone) to collect its status, which may take a while.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; state Z is a zombie. Linux only.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function waitUntilDead(pid: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

/** Starts the child script and resolves with it once it printed the moto PID. */
async function startChild(mode: 'wait' | 'crash') {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const motoPid = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /PID (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    void exited.then(() => reject(new Error(`the child exited before starting moto: ${output}`)));
  });
  return { child, motoPid, exited };
}

// Each test starts moto (in a child process for the signal tests): seconds, more on a loaded machine.
describe('startCloud', { timeout: 120_000 }, () => {
  it('starts moto_server on a free loopback port and stops it by PID', async () => {
    const cloud = await startCloud({ env: {}, handleSignals: false, readyTimeoutMs: 60_000 });
    const pid = cloud.pid ?? -1;

    const answer = await fetch(`${cloud.endpoint}/moto-api/data.json`);
    await cloud.stop();

    expect(cloud.owned).toBe(true);
    expect(cloud.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(answer.status).toBe(200);
    expect(await waitUntilDead(pid)).toBe(true);
  });

  it('attaches to the emulator named by AWS_ENDPOINT_URL and leaves it running on stop', async () => {
    const cloud = await startCloud({ env: { AWS_ENDPOINT_URL: moto.endpoint } });

    await cloud.stop();
    const answer = await fetch(`${moto.endpoint}/moto-api/data.json`);

    expect(cloud).toMatchObject({ endpoint: moto.endpoint, owned: false, pid: undefined });
    expect(answer.status).toBe(200);
  });

  it('fails fast with the install command when moto_server is not installed', async () => {
    const failure = startCloud({
      env: {},
      command: 'moto_server_that_is_not_installed',
      handleSignals: false,
    });

    await expect(failure).rejects.toThrow(MotoUnavailableError);
    await expect(failure).rejects.toThrow(`Install it with: ${MOTO_INSTALL_COMMAND}`);
  });

  it('fails with the install command when moto_server starts but Python lacks moto', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'plugboard-fake-moto-'));
    const fake = join(directory, 'moto_server');
    await writeFile(fake, '#!/bin/sh\necho "ModuleNotFoundError: No module named \'moto\'" >&2\nexit 1\n');
    await chmod(fake, 0o755);

    const failure = startCloud({ env: {}, command: fake, handleSignals: false });

    await expect(failure).rejects.toThrow(MotoUnavailableError);
    await expect(failure).rejects.toThrow(/No module named 'moto'[\s\S]*Install it with/);
    await rm(directory, { recursive: true, force: true });
  });

  it('never takes another emulator answering on its port for its own moto_server', async () => {
    // This file's moto already listens there: the new moto_server cannot bind, though the port answers.
    const port = Number(new URL(moto.endpoint).port);

    const failure = startCloud({ env: {}, port, handleSignals: false, readyTimeoutMs: 60_000 });

    await expect(failure).rejects.toThrow(MotoStartError);
    await expect(failure).rejects.toThrow(/another program holds its port/);
    const answer = await fetch(`${moto.endpoint}/moto-api/data.json`);
    expect(answer.status).toBe(200);
  });

  it('fails with MotoStartError when the given endpoint does not answer', async () => {
    await expect(startCloud({ endpoint: 'http://127.0.0.1:9', readyTimeoutMs: 300 })).rejects.toThrow(
      MotoStartError,
    );
  });

  it('stops moto when the host process gets Ctrl-C (SIGINT)', async () => {
    const { child, motoPid, exited } = await startChild('wait');

    child.kill('SIGINT');
    const exit = await exited;

    expect(exit.signal).toBe('SIGINT');
    expect(await waitUntilDead(motoPid)).toBe(true);
  });

  it('stops moto when the host process gets SIGTERM', async () => {
    const { child, motoPid, exited } = await startChild('wait');

    child.kill('SIGTERM');
    await exited;

    expect(await waitUntilDead(motoPid)).toBe(true);
  });

  it('stops moto when the host process crashes', async () => {
    const { motoPid, exited } = await startChild('crash');

    const exit = await exited;

    expect(exit.code).toBe(1);
    expect(await waitUntilDead(motoPid)).toBe(true);
  });
});
