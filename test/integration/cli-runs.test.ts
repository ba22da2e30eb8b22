/**
 * `plugboard start | status | watch | retry` as a subprocess against the engine on a private moto.
 * The start function is the real start handler behind a minimal Lambda Invoke endpoint (cli-harness).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleUrlExport } from '../../lambdas/api/console-links.js';
import { useMoto } from '../support/moto.js';
import { type CliWorld, createCliWorld, json, outputOf, WORKFLOW, waitForOutput } from './cli-harness.js';

const moto = useMoto();
let world: CliWorld;
/** Every CLI call starts a Node.js process: seconds each on a loaded machine. */
const CLI_TIMEOUT = { timeout: 120_000 } as const;

beforeAll(async () => {
  world = await createCliWorld(moto.endpoint);
});
afterAll(async () => {
  await world?.close();
});

const settle = (uid: string) => world.orchestra.runUntilSettled({ workflow: WORKFLOW, uid });

describe('plugboard start', CLI_TIMEOUT, () => {
  it('starts a run, prints its id and how to watch it, and exits 0', async () => {
    const result = await world.cli([
      'start',
      WORKFLOW,
      '--uid',
      'start-1',
      '--metadata',
      '{"channel":"web"}',
    ]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Started run order/start-1 (generation 1).');
    expect(result.stdout).toContain('npx plugboard --local watch order start-1');
    expect((await world.orchestra.store.getRun({ workflow: WORKFLOW, uid: 'start-1' }))?.metadata).toEqual({
      channel: 'web',
    });
  });

  it('answers the existing run as JSON when the same uid is started again', async () => {
    const result = await world.cli(['start', WORKFLOW, '--uid', 'start-1', '--json']);

    expect(result.code).toBe(0);
    expect(json(result)).toMatchObject({
      ok: true,
      outcome: 'existing',
      run: { uid: 'start-1', generation: 1 },
    });
  });

  it('exits 1 naming the error type and the known workflows when the workflow is unknown', async () => {
    const [human, machine] = await Promise.all([
      world.cli(['start', 'invoice', '--uid', 'x-1']),
      world.cli(['start', 'invoice', '--uid', 'x-1', '--json']),
    ]);

    expect(human.code).toBe(1);
    expect(human.stderr).toContain(
      'Unknown workflow "invoice": plugboard.config.ts declares "order". Check the name',
    );
    expect(human.stderr).not.toContain('    at ');
    expect(machine.code).toBe(1);
    expect(json(machine)).toMatchObject({ ok: false, error: { type: 'UnknownWorkflowError' } });
  });
});

describe('plugboard status', CLI_TIMEOUT, () => {
  it('shows the run as a tree with states, attempts, durations and truncated results', async () => {
    await settle('start-1');

    const result = await world.cli(['status', WORKFLOW, 'start-1']);

    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^order \/ start-1 {2}Complete {2}generation 1 {2}started .* {2}ended .*s$/);
    expect(result.stdout).toContain('├─ intake');
    expect(result.stdout).toContain('└─ fulfilment');
    expect(result.stdout).toMatch(/validate {2}Complete {2}mandatory {2}attempt 1\/3 {2}\d/);
    expect(result.stdout).toMatch(/enrich +Complete {2}optional/);
    expect(result.stdout).toContain('result: {"valid":true}');
    expect(result.stdout).toMatch(/result: \{"score":0\.93,"reasons":\["x+…/);
    expect(result.stdout).toMatch(/send-sms {2}Complete/);
    expect(result.stdout).not.toContain('states:');
  });

  it('links the run to its page in the console when the deployment exports a console URL', async () => {
    await settle('start-1');
    const state = JSON.parse(await readFile(world.statePath, 'utf8')) as { exports: Record<string, string> };
    const withConsole = join(dirname(world.statePath), 'with-console.json');
    await writeFile(
      withConsole,
      JSON.stringify({
        ...state,
        exports: {
          ...state.exports,
          [consoleUrlExport({ systemName: 'plugboard', stage: 'dev' })]: 'https://console.example/',
        },
      }),
    );

    const linked = await world.cli(['status', WORKFLOW, 'start-1'], {
      env: { PLUGBOARD_LOCAL_STATE: withConsole },
    });
    const plain = await world.cli(['status', WORKFLOW, 'start-1']);

    expect(linked.code).toBe(0);
    expect(linked.stdout).toContain('console: https://console.example/#/runs/order/start-1');
    expect(plain.stdout).not.toContain('console:');
  });

  it('adds the time of every state with --verbose', async () => {
    const result = await world.cli(['status', WORKFLOW, 'start-1', '--verbose']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/states: In Progress \d{4}-\d\d-\d\d [\d:]{8} UTC · Complete /);
  });

  it('prints the whole snapshot with --json', async () => {
    const result = await world.cli(['status', WORKFLOW, 'start-1', '--json']);

    const snapshot = json<{ run: { state: string }; stages: unknown[]; plugins: { plugin: string }[] }>(
      result,
    );
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.stages).toHaveLength(6);
    expect(snapshot.plugins.map((p) => p.plugin).sort()).toEqual(
      ['charge-card', 'enrich', 'score', 'send-sms', 'slow', 'validate'].sort(),
    );
  });

  it('exits 1 with how to find the run when it does not exist', async () => {
    const [result, machine] = await Promise.all([
      world.cli(['status', WORKFLOW, 'nope-1']),
      world.cli(['status', WORKFLOW, 'nope-1', '--json']),
    ]);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No run "nope-1" of workflow "order"');
    expect(result.stderr).toContain('npx plugboard --local list --workflow order');
    expect(machine.code).toBe(1);
    expect(json(machine)).toMatchObject({ ok: false, error: { type: 'NotFoundError' } });
  });
});

describe('plugboard watch', CLI_TIMEOUT, () => {
  it('prints the changes of a run as it progresses and exits 0 when it completes', async () => {
    await world.cli(['start', WORKFLOW, '--uid', 'watch-1']);
    const first = waitForOutput((text) => text.includes('run: In Progress'));
    // The stage item is written Not Started and moves to In Progress in the same delivery: a watch
    // that reads in between shows both.
    const preStartedLine = /^\d\d:\d\d:\d\d UTC intake\/pre: (Not Started → )?In Progress$/m;
    const preStarted = waitForOutput((text) => preStartedLine.test(text));

    const watching = world.cli(['watch', WORKFLOW, 'watch-1', '--interval', '100ms', '--timeout', '120s'], {
      onStdout: (text) => {
        first.feed(text);
        preStarted.feed(text);
      },
    });
    await outputOf(first, watching, 'the run was shown');
    // One round starts intake/pre, which stays In Progress until the next round brings the report:
    // the watch sees that state whatever the speed of either process.
    await world.orchestra.pump();
    await outputOf(preStarted, watching, 'intake/pre was shown In Progress');
    await settle('watch-1');
    const result = await watching;

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(preStartedLine);
    expect(result.stdout).toMatch(
      /fulfilment\/parallel\/charge-card: (Not Started → |In Progress → )?Complete/,
    );
    expect(result.stdout).toMatch(/run: In Progress → Complete$/m);
  });

  it('exits 1 when the run fails, naming the failure', async () => {
    await world.cli(['start', WORKFLOW, '--uid', 'watch-2', '--metadata', '{"fail":true}']);
    await settle('watch-2');

    const result = await world.cli(['watch', WORKFLOW, 'watch-2']);

    expect(result.code).toBe(1);
    expect(result.stdout).toContain('fulfilment/parallel/charge-card: Error (card declined)');
    expect(result.stdout).toMatch(/run: Error/);
  });

  it('exits 2 when --timeout runs out before the run ends, and emits JSON lines with --json', async () => {
    await world.cli(['start', WORKFLOW, '--uid', 'watch-3', '--metadata', '{"hang":true}']);
    await world.orchestra.pump();

    const result = await world.cli([
      'watch',
      WORKFLOW,
      'watch-3',
      '--interval',
      '200ms',
      '--timeout',
      '1s',
      '--json',
    ]);

    expect(result.code).toBe(2);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ path: 'run', kind: 'run', to: 'In Progress', generation: 1 });
    expect(lines).toContainEqual(
      expect.objectContaining({
        path: 'intake/pre/validate',
        plugin: 'validate',
        to: 'In Progress',
        attempt: 1,
      }),
    );
    expect(lines.at(-1)).toEqual({ timeout: true, state: 'In Progress' });
  });
});
