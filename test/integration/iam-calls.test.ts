/**
 * The IAM simulation's evidence stays true: the example workflow runs on the local cloud with IAM
 * enforced and every allowed call of a function recorded (PLUGBOARD_IAM_RECORD, local/iam/recorder.ts),
 * and each recorded call must be in test/cdk/fixtures/iam-calls.json, the fixture the CDK test
 * replays against the templates. A call the code makes that the fixture lacks fails here, with the
 * command that regenerates the fixture.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import type { AccessDenial } from '../../local/index.js';
import { type IamCallsFixture, normalizeCalls, readRecording } from '../../local/scripts/iam-record.js';
import { E2E_STAGE } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const directory = mkdtempSync(join(tmpdir(), 'plugboard-iam-calls-'));
const recording = join(directory, 'calls.jsonl');
const fixture = JSON.parse(
  readFileSync(new URL('../cdk/fixtures/iam-calls.json', import.meta.url), 'utf8'),
) as IamCallsFixture;

let env: DemoEnvironment;
const denials: AccessDenial[] = [];

beforeAll(async () => {
  env = await DemoEnvironment.start(synthDemo({ stage: E2E_STAGE }), {
    stage: E2E_STAGE,
    endpoint: moto.endpoint,
    env: { ...process.env, PLUGBOARD_IAM_RECORD: recording, PLUGBOARD_IAM: 'on' },
    handleSignals: false,
    scheduleSpeedUp: 10,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
    onAccessDenied: (denial) => denials.push(denial),
  });
}, 600_000);

afterAll(async () => {
  await env?.stop();
  rmSync(directory, { recursive: true, force: true });
});

describe('the recorded IAM calls', () => {
  it('holds every call the example workflow makes', async () => {
    expect(fixture.stage).toBe(E2E_STAGE);
    await env.startRun({ uid: 'iam-calls-1', metadata: { giftWrap: true } });
    const snapshot = await env.waitForRun('iam-calls-1', { timeoutMs: 240_000 });
    expect(snapshot.run.state).toBe('Complete');
    expect(denials.map((denial) => denial.reason)).toEqual([]);

    const recorded = normalizeCalls(readRecording(recording));
    // The deploy's registrations, the start, every stage and the plugins' reports were seen.
    expect(recorded.length).toBeGreaterThan(40);
    const known = new Set(fixture.calls.map((call) => JSON.stringify(call)));
    const missing = recorded.filter((call) => !known.has(JSON.stringify(call)));
    expect(
      missing,
      'the code makes calls test/cdk/fixtures/iam-calls.json lacks: run `npx tsx local/scripts/iam-record.ts` and review the diff',
    ).toEqual([]);
  }, 300_000);
});
