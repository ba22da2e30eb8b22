/**
 * The Python bootstrap (local/python-env.ts) on the paths this machine can show without uninstalling
 * anything: the tools on PATH; the tools in the project's environment; no Python at all (a PATH with
 * neither python nor pip); and no reachable package index (a real venv whose pip is pointed at a
 * closed port), which must name the command to run by hand.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ensurePythonTools,
  installCommand,
  onPath,
  PackageIndexUnreachableError,
  PYTHON_ENV_DIR,
  PYTHON_REQUIREMENTS,
  PythonMissingError,
} from '../../local/python-env.js';

let dir: string;
let said: string[];
const say = (line: string) => said.push(line);
beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'plugboard-python-')));
  said = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A folder holding only the named executables (links to the real ones, or the given scripts). */
async function pathWith(entries: Record<string, string>): Promise<string> {
  const bin = await mkdtemp(join(dir, 'bin-'));
  for (const [name, target] of Object.entries(entries)) {
    if (target.startsWith('#!')) {
      await writeFile(join(bin, name), target);
      await chmod(join(bin, name), 0o755);
    } else {
      await symlink(target, join(bin, name));
    }
  }
  return bin;
}

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ensurePythonTools', () => {
  it('pins moto with its server extras and cfn-lint, in the command it names', () => {
    expect(PYTHON_REQUIREMENTS).toContain('moto[server]==5.2.1');
    expect(PYTHON_REQUIREMENTS).toContain('cfn-lint==1.51.0');
    for (const requirement of PYTHON_REQUIREMENTS) expect(requirement).toMatch(/^[\w.[\]-]+==[\d.]+$/);
    expect(installCommand('/p/python')).toBe(
      `/p/python -m pip install ${PYTHON_REQUIREMENTS.map((r) => `'${r}'`).join(' ')}`,
    );
  });

  it('uses the tools on PATH as they are, without creating anything', async () => {
    // This machine has both on PATH (the test runs need them).
    const path = process.env.PATH ?? '';
    expect(onPath('moto_server', path)).toBeDefined();

    const tools = await ensurePythonTools({ tools: ['moto_server', 'cfn-lint'], root: dir, say });

    expect(tools).toEqual({ path, installed: false });
    expect(said).toEqual([]);
    expect(onPath('python', join(dir, PYTHON_ENV_DIR, 'bin'))).toBeUndefined();
  });

  it("puts the project's environment first on PATH when it already has the tools", async () => {
    const binDir = join(dir, PYTHON_ENV_DIR, 'bin');
    await mkdir(binDir, { recursive: true });
    for (const tool of ['moto_server', 'cfn-lint']) {
      await writeFile(join(binDir, tool), '#!/bin/sh\nexit 0\n');
      await chmod(join(binDir, tool), 0o755);
    }
    const empty = await pathWith({});

    const tools = await ensurePythonTools({
      tools: ['moto_server', 'cfn-lint'],
      root: dir,
      env: { PATH: empty },
      say,
    });

    expect(tools).toEqual({ path: `${binDir}:${empty}`, binDir, installed: false });
    expect(said).toEqual([]);
  });

  it('says how to get Python 3 when PATH has neither the tools nor python or pip', async () => {
    const empty = await pathWith({ sh: '/bin/sh' });

    const failure = ensurePythonTools({
      tools: ['moto_server', 'cfn-lint'],
      root: dir,
      env: { PATH: empty },
      say,
    });

    await expect(failure).rejects.toBeInstanceOf(PythonMissingError);
    await expect(failure).rejects.toThrow(
      'moto_server and cfn-lint are not on PATH, and there is no Python 3',
    );
    await expect(failure).rejects.toThrow('sudo apt-get install python3 python3-venv');
    await expect(failure).rejects.toThrow('brew install python');
    await expect(failure).rejects.toThrow(installCommand());
    expect(said).toEqual([]);
  });

  it('creates the environment, and names the command to run by hand when no package index answers', {
    timeout: 120_000,
  }, async () => {
    const python = spawnSync('python3', ['-c', 'import os, sys; print(os.path.realpath(sys.executable))'], {
      encoding: 'utf8',
    }).stdout.trim();
    expect(python, 'python3 on this machine').not.toBe('');
    // python3 alone on PATH (no moto_server, no cfn-lint, no pip), and a pip whose only index is a
    // closed port: no configuration file, no local wheels, no retries.
    const bin = await pathWith({ python3: python });
    const env = {
      PATH: bin,
      HOME: dir,
      PIP_CONFIG_FILE: '/dev/null',
      PIP_INDEX_URL: `http://127.0.0.1:${await closedPort()}/simple`,
      PIP_RETRIES: '0',
      PIP_TIMEOUT: '2',
      PIP_NO_CACHE_DIR: '1',
    };

    const failure = ensurePythonTools({ tools: ['moto_server'], root: dir, env, say }).catch(
      (error: unknown) => error,
    );
    const error = await failure;

    const venvPython = join(dir, PYTHON_ENV_DIR, 'bin', 'python');
    expect(error).toBeInstanceOf(PackageIndexUnreachableError);
    expect((error as PackageIndexUnreachableError).command).toBe(installCommand(venvPython));
    expect((error as Error).message).toContain(`run by hand:\n  ${installCommand(venvPython)}`);
    expect((error as Error).message).toContain('PIP_INDEX_URL');
    // The environment was created (the command above works as printed) and the user was told.
    expect(onPath('python', join(dir, PYTHON_ENV_DIR, 'bin'))).toBe(venvPython);
    expect(said.join('\n')).toContain(
      `moto_server not found on PATH: creating a Python environment in ${join(dir, PYTHON_ENV_DIR)}`,
    );
    expect(said.join('\n')).toContain('installing moto[server]==5.2.1 and cfn-lint==1.51.0');
  });
});
