/**
 * Regenerates test/cdk/fixtures/iam-calls.json: the calls the deployed functions' code makes, as the
 * local cloud's IAM enforcer sees them (local/iam/recorder.ts), gathered while the example workflow
 * and the integration scenarios run with IAM enforced. test/cdk/iam-simulation.test.ts replays them
 * against the synthesized templates; test/integration/iam-calls.test.ts fails when the code makes a
 * call the fixture lacks.
 *
 *     npx tsx local/scripts/iam-record.ts            # every scenario below, one file at a time
 *     npx tsx local/scripts/iam-record.ts e2e-happy-path trust-probes   # only these (merged in)
 *
 * Scenarios run one at a time (each starts moto and the local cloud). Without arguments the fixture
 * is rewritten from scratch; with arguments the new calls are added to the calls already there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordedCall } from '../iam/recorder.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURE = join(ROOT, 'test/cdk/fixtures/iam-calls.json');

/** Integration tests that deploy the app and the examples at stage `local` and drive them. */
export const SCENARIOS = [
  'e2e-happy-path',
  'e2e-failures',
  'e2e-rerun',
  'local-iam-app',
  'trust-probes',
  'api-e2e',
] as const;

export interface IamCallsFixture {
  readonly description: string;
  readonly stage: string;
  readonly scenarios: readonly string[];
  readonly calls: readonly RecordedCall[];
}

/** Distinct calls, sorted (stack, role, action, resource, context), so diffs of the fixture read well. */
export function normalizeCalls(calls: readonly RecordedCall[]): RecordedCall[] {
  const byLine = new Map<string, RecordedCall>();
  for (const call of calls) byLine.set(JSON.stringify(call), call);
  return [...byLine.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, call]) => call);
}

export function readRecording(file: string): RecordedCall[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RecordedCall);
}

function main(): void {
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; choose from ${SCENARIOS.join(', ')}`);
    process.exit(2);
  }
  const scenarios = chosen.length > 0 ? chosen : [...SCENARIOS];
  const directory = mkdtempSync(join(tmpdir(), 'plugboard-iam-record-'));
  const file = join(directory, 'calls.jsonl');
  try {
    for (const scenario of scenarios) {
      console.error(`recording ${scenario} …`);
      const result = spawnSync(
        'npx',
        ['vitest', 'run', '--project', 'integration', `test/integration/${scenario}.test.ts`],
        {
          cwd: ROOT,
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, PLUGBOARD_IAM_RECORD: file, PLUGBOARD_IAM: 'on' },
        },
      );
      if (result.status !== 0) {
        console.error(`${scenario} failed (exit ${result.status}); the fixture is left unchanged`);
        process.exit(1);
      }
    }
    const previous: IamCallsFixture | undefined =
      chosen.length > 0 && existsSync(FIXTURE)
        ? (JSON.parse(readFileSync(FIXTURE, 'utf8')) as IamCallsFixture)
        : undefined;
    const calls = normalizeCalls([...(previous?.calls ?? []), ...readRecording(file)]);
    const fixture: IamCallsFixture = {
      description:
        'Calls the deployed functions made, as the local IAM enforcer allowed them (regenerate: npx tsx local/scripts/iam-record.ts)',
      stage: 'local',
      scenarios: [...new Set([...(previous?.scenarios ?? []), ...scenarios])].sort(),
      calls,
    };
    writeFileSync(FIXTURE, `${JSON.stringify(fixture, null, 2)}\n`);
    console.error(`${calls.length} distinct calls written to ${FIXTURE}`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
