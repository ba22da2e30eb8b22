/**
 * `plugboard cancel | skip | retry`: the operator overrides (cancel and skip run in the CLI process
 * with the real adapters; retry reruns through the start function).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import { type CliWorld, createCliWorld, json, WORKFLOW } from './cli-harness.js';

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

const key = (uid: string) => ({ workflow: WORKFLOW, uid });

/** Starts a run whose `slow` plugin never reports, and pumps until intake/parallel is dispatched. */
async function hangingRun(uid: string): Promise<void> {
  const started = await world.orchestra.start({ workflow: WORKFLOW, uid, metadata: { hang: true } });
  expect(started).toMatchObject({ ok: true });
  for (let round = 0; round < 20; round += 1) {
    await world.orchestra.pump();
    const slow = await world.orchestra.store.getPlugin({
      ...key(uid),
      activity: 'intake',
      stage: 'parallel',
      plugin: 'slow',
    });
    if (slow?.state === 'In Progress') return;
  }
  throw new Error(`slow never started in ${uid}`);
}

describe('plugboard cancel', CLI_TIMEOUT, () => {
  it('cancels a run in progress with the reason, publishes run.cancelled and exits 0', async () => {
    await hangingRun('cancel-1');

    const result = await world.cli(['cancel', WORKFLOW, 'cancel-1', '--reason', 'duplicate order']);

    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('Cancelled order/cancel-1: duplicate order');
    const run = await world.orchestra.store.getRun(key('cancel-1'));
    expect(run).toMatchObject({ state: 'Cancelled', message: 'duplicate order' });
    const events = await world.orchestra.drainEvents();
    expect(events.filter((e) => e.uid === 'cancel-1').map((e) => e.type)).toContain('run.cancelled');
  });

  it('refuses to cancel a finished run with exit 1 and says why', async () => {
    await world.orchestra.start({ workflow: WORKFLOW, uid: 'cancel-2' });
    await world.orchestra.runUntilSettled(key('cancel-2'));

    const result = await world.cli(['cancel', WORKFLOW, 'cancel-2', '--json']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is already Complete; there is nothing to cancel');
  });

  it('exits 1 for an unknown run, pointing at list', async () => {
    const result = await world.cli(['cancel', WORKFLOW, 'nope']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('No run "nope" of workflow "order"');
    expect(result.stderr).toContain('npx plugboard --local list --workflow order');
  });
});

describe('plugboard skip', CLI_TIMEOUT, () => {
  it('marks a plugin of a stage not yet started Do Not Run, and the run completes without it', async () => {
    await world.orchestra.start({ workflow: WORKFLOW, uid: 'skip-1', metadata: { channel: 'web' } });

    const result = await world.cli(['skip', WORKFLOW, 'skip-1', 'fulfilment', 'post', 'send-sms', '--json']);
    const snapshot = await world.orchestra.runUntilSettled(key('skip-1'));

    expect(result.code).toBe(0);
    expect(json(result)).toEqual({
      ok: true,
      skipped: {
        workflow: WORKFLOW,
        uid: 'skip-1',
        activity: 'fulfilment',
        stage: 'post',
        plugin: 'send-sms',
      },
    });
    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins.find((p) => p.plugin === 'send-sms')?.state).toBe('Do Not Run');
    expect(world.orchestra.published.some((m) => m.uid === 'skip-1' && m.plugins.includes('send-sms'))).toBe(
      false,
    );
  });

  it('refuses a plugin that is running, with exit 1 and the reason', async () => {
    await hangingRun('skip-2');

    const result = await world.cli(['skip', WORKFLOW, 'skip-2', 'intake', 'parallel', 'slow']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'Plugin "slow" is In Progress; only a plugin that has not started can be skipped.',
    );
  });

  it('refuses a finished run and an activity the run does not have', async () => {
    const [finished, foreign] = await Promise.all([
      world.cli(['skip', WORKFLOW, 'cancel-2', 'fulfilment', 'post', 'send-sms']),
      world.cli(['skip', WORKFLOW, 'skip-2', 'billing', 'pre', 'x']),
    ]);

    expect(finished.code).toBe(1);
    expect(finished.stderr).toContain('Run "cancel-2" is Complete');
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toContain(
      'Activity "billing" is not part of run "skip-2" (its activities: intake, fulfilment)',
    );
  });
});

describe('plugboard retry', CLI_TIMEOUT, () => {
  it('reruns a failed run as generation 2, naming the plugins that run again, and keeps the completed ones', async () => {
    await world.orchestra.start({
      workflow: WORKFLOW,
      uid: 'retry-1',
      metadata: { fail: true, channel: 'web' },
    });
    const failed = await world.orchestra.runUntilSettled(key('retry-1'));
    expect(failed.run.state).toBe('Error');
    const validatedAt = failed.plugins.find((p) => p.plugin === 'validate')?.stateTimes.Complete;

    const result = await world.cli(['retry', WORKFLOW, 'retry-1']);
    const rerun = await world.orchestra.runUntilSettled(key('retry-1'));

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'Rerunning order/retry-1 (generation 2): will run again fulfilment/parallel/charge-card',
    );
    expect(rerun.run).toMatchObject({ state: 'Complete', generation: 2 });
    const validate = rerun.plugins.find((p) => p.plugin === 'validate');
    expect(validate?.stateTimes.Complete).toBe(validatedAt);
    const validateDispatches = world.orchestra.published.filter(
      (m) => m.uid === 'retry-1' && m.plugins.includes('validate'),
    );
    expect(validateDispatches).toHaveLength(1);
  });

  it('refuses a complete run and a run in progress with exit 1', async () => {
    await hangingRun('retry-2');
    const [complete, running] = await Promise.all([
      world.cli(['retry', WORKFLOW, 'retry-1']),
      world.cli(['retry', WORKFLOW, 'retry-2', '--json']),
    ]);

    expect(complete.code).toBe(1);
    expect(complete.stderr).toContain('is Complete; nothing failed');
    expect(running.code).toBe(1);
    expect(running.stderr).toContain('still In Progress');
  });
});
