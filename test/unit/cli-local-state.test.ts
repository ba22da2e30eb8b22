/** The local cloud's state file: written atomically by the local cloud, read and validated by the CLI. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLocal, localRef } from '../../bin/cli/deployment.js';
import { DeploymentError } from '../../bin/cli/errors.js';
import { localStatePath, readLocalState, writeLocalState } from '../../bin/cli/local-state.js';

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
