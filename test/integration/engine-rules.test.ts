/**
 * The engine with its real adapters on moto: SNS topics with the real filter policies, SQS inboxes,
 * the status table. Faults moto cannot produce (duplicates, reordering, crashes) are injected here.
 */
import { describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import type { FakePlugin } from '../support/orchestra.js';
import { info, referenceOrchestra, referencePlugins, WORKFLOW } from '../support/reference.js';

const moto = useMoto();
const orchestra = (plugins: FakePlugin[]) => referenceOrchestra(moto.endpoint, plugins);

describe('stage rules on moto', () => {
  it('never awaits a mandatory plugin that its filter policy excludes', async () => {
    const plugins = referencePlugins({
      'fulfilment-par-2': { filterPolicy: { channel: ['store'] } },
    });
    const o = await orchestra(plugins);
    await o.start({ workflow: WORKFLOW, uid: 'filtered-1', metadata: { channel: 'web' } });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'filtered-1' });

    expect(snapshot.run.state).toBe('Complete');
    const excluded = snapshot.plugins.find((p) => p.plugin === 'fulfilment-par-2');
    expect(excluded?.state).toBe('Do Not Run');
    expect(o.published.some((m) => m.plugins.includes('fulfilment-par-2'))).toBe(false);
  });

  it('retries a plugin that fails once and completes the run', async () => {
    const o = await orchestra(
      referencePlugins({
        'intake-par-3': {
          behave: (_m, n) => (n === 1 ? { status: 'Error', message: 'flaky' } : { status: 'Complete' }),
        },
      }),
    );
    await o.start({ workflow: WORKFLOW, uid: 'retry-1' });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'retry-1' });

    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins.find((p) => p.plugin === 'intake-par-3')?.attempt).toBe(2);
    const retry = o.published.filter((m) => m.plugins.includes('intake-par-3'));
    expect(retry.map((m) => m.plugins)).toEqual([expect.any(Array), ['intake-par-3']]);
    expect((await o.drainEvents()).map((e) => e.type)).toContain('plugin.retrying');
  });

  it('fails the run with the plugin message when a mandatory plugin always fails', async () => {
    const o = await orchestra(
      referencePlugins({
        'fulfilment-pre': { behave: () => ({ status: 'Error', message: 'card declined' }) },
      }),
    );
    await o.start({ workflow: WORKFLOW, uid: 'fail-1' });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'fail-1' });

    expect(snapshot.run.state).toBe('Error');
    expect(snapshot.run.message).toContain('card declined');
    expect(snapshot.plugins.find((p) => p.plugin === 'fulfilment-pre')).toMatchObject({
      state: 'Error',
      attempt: 3,
    });
    expect(snapshot.stages.some((s) => s.activity === 'notify')).toBe(false);
    const failed = (await o.drainEvents()).filter((e) => e.type === 'run.failed');
    expect(failed).toHaveLength(1);
  });

  it('completes the run when an optional plugin fails', async () => {
    const o = await orchestra(
      referencePlugins({
        'notify-par-5': {
          info: info('notify-par-5', { default: { mandatory: false } }),
          behave: () => ({ status: 'Error', retryable: false, message: 'no email address' }),
        },
      }),
    );
    await o.start({ workflow: WORKFLOW, uid: 'optional-1' });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'optional-1' });

    expect(snapshot.run.state).toBe('Complete');
    expect(snapshot.plugins.find((p) => p.plugin === 'notify-par-5')?.state).toBe('Error');
  });

  it('times out a hanging plugin, retries it, then fails the run', async () => {
    const o = await orchestra(
      referencePlugins({
        'intake-par-1': {
          info: info('intake-par-1', { deadlineSeconds: 1, maxAttempts: 2 }),
          behave: () => ({ status: 'hang' }),
        },
      }),
    );
    await o.start({ workflow: WORKFLOW, uid: 'hang-1' });

    const snapshot = await o.runUntilSettled(
      { workflow: WORKFLOW, uid: 'hang-1' },
      {
        maxRounds: 200,
        between: async () => {
          await new Promise((r) => setTimeout(r, 300));
          await o.sweep();
        },
      },
    );

    expect(snapshot.run.state).toBe('Error');
    expect(snapshot.plugins.find((p) => p.plugin === 'intake-par-1')).toMatchObject({
      state: 'Timed Out',
      attempt: 2,
    });
    const types = (await o.drainEvents()).map((e) => e.type);
    expect(types.filter((t) => t === 'plugin.timed-out')).toHaveLength(2);
  });

  it('reruns a failed run, keeping completed plugins and running only the failed one', async () => {
    let healthy = false;
    const o = await orchestra(
      referencePlugins({
        'fulfilment-par-4': {
          behave: () =>
            healthy ? { status: 'Complete' } : { status: 'Error', retryable: false, message: 'down' },
        },
      }),
    );
    await o.start({ workflow: WORKFLOW, uid: 'rerun-1' });
    const failed = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'rerun-1' });
    expect(failed.run.state).toBe('Error');
    const publishedBefore = o.published.length;

    healthy = true;
    const rerun = await o.start({ workflow: WORKFLOW, uid: 'rerun-1', rerun: true });
    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'rerun-1' });

    expect(rerun).toMatchObject({ ok: true, outcome: 'rerun', run: { generation: 2 } });
    expect(snapshot.run.state).toBe('Complete');
    const again = o.published
      .slice(publishedBefore)
      .flatMap((m) => (m.activity === 'intake' || m.activity === 'fulfilment' ? m.plugins : []));
    expect(again.filter((p) => p.startsWith('intake') || p === 'fulfilment-pre')).toEqual([]);
    expect(again).toContain('fulfilment-par-4');
  });
});
