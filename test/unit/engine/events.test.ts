/**
 * Lifecycle events: one per fact, at least once, each fact always with the same `eventId`.
 */
import { describe, expect, it } from 'vitest';
import { lifecycleEventSchema, STATES } from '../../../lambdas/contracts/index.js';
import { lifecycleEvent } from '../../../lambdas/engine/events.js';
import { cancelRun } from '../../../lambdas/engine/operator.js';
import {
  createHarness,
  drive,
  failsAttempts,
  register,
  registerReferencePlugins,
  runKey,
  startRequest,
} from '../../support/engine-harness.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };
const AT = '2026-11-23T10:00:00.000Z';

describe('lifecycle events', () => {
  it('announce run.started when a run is created', async () => {
    const h = createHarness(ONE_ACTIVITY);

    await drive(h, { start: startRequest('u1'), sweep: false });

    expect(h.events.ofType('run.started')).toEqual([
      {
        schemaVersion: 1,
        kind: 'lifecycle',
        type: 'run.started',
        eventId: 'run.started:reference:u1:g1',
        at: AT,
        workflow: 'reference',
        uid: 'u1',
        generation: 1,
      },
    ]);
  });

  it('announce run.completed when the last stage completes, under one eventId however often it is sent', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await registerReferencePlugins(h, { activities: ['intake'] });

    await drive(h, { start: startRequest('u1'), duplicate: true });

    expect(h.events.ofType('run.completed').length).toBeGreaterThanOrEqual(1);
    expect(h.events.idsOf('run.completed')).toEqual(['run.completed:reference:u1:g1']);
    expect(h.events.published.map((e) => e.type)).not.toContain('run.failed');
  });

  it('announce run.failed naming the activity, stage, plugin and message', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'parallel', name: 'charge' });

    await drive(h, {
      start: startRequest('u1'),
      plugins: { charge: () => ({ status: 'Error', retryable: false, message: 'card declined' }) },
    });

    expect(h.events.ofType('run.failed')).toEqual([
      expect.objectContaining({
        eventId: 'run.failed:reference:u1:g1:intake:parallel:charge',
        activity: 'intake',
        stage: 'parallel',
        plugin: 'charge',
        message: 'intake/parallel: charge: card declined',
      }),
    ]);
    expect(h.events.idsOf('plugin.failed')).toEqual([
      'plugin.failed:reference:u1:g1:intake:parallel:charge:a1',
    ]);
  });

  it('announce plugin.retrying once per failed attempt, with the attempt in its eventId', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'flaky' });

    await drive(h, { start: startRequest('u1'), plugins: { flaky: failsAttempts(2, 'busy') } });

    expect(h.events.ofType('plugin.retrying').map((e) => [e.eventId, e.message])).toEqual([
      ['plugin.retrying:reference:u1:g1:intake:pre:flaky:a1', 'busy'],
      ['plugin.retrying:reference:u1:g1:intake:pre:flaky:a2', 'busy'],
    ]);
  });

  it('announce plugin.timed-out for every attempt that passes its deadline', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'slow', mandatory: false, maxAttempts: 2 });

    await drive(h, { start: startRequest('u1'), plugins: { slow: () => undefined } });

    expect(h.events.idsOf('plugin.timed-out')).toEqual([
      'plugin.timed-out:reference:u1:g1:intake:pre:slow:a1',
      'plugin.timed-out:reference:u1:g1:intake:pre:slow:a2',
    ]);
    expect(h.events.idsOf('run.completed')).toHaveLength(1);
  });

  it('announce run.cancelled with the reason', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'slow' });
    await drive(h, { start: startRequest('u1'), plugins: { slow: () => undefined }, sweep: false });

    await cancelRun(h.deps, runKey('u1'), 'customer withdrew');

    expect(h.events.ofType('run.cancelled')).toEqual([
      expect.objectContaining({ eventId: 'run.cancelled:reference:u1:g1', message: 'customer withdrew' }),
    ]);
  });

  it('announce run.rerun for the new generation', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await drive(h, { start: startRequest('u1') });

    await drive(h, { start: startRequest('u1', { rerun: true }) });

    expect(h.events.idsOf('run.rerun')).toEqual(['run.rerun:reference:u1:g2']);
    expect(h.events.idsOf('run.completed')).toEqual([
      'run.completed:reference:u1:g1',
      'run.completed:reference:u1:g2',
    ]);
  });

  it('are valid lifecycle events and give the same fact the same id', () => {
    const run = { workflow: 'reference', uid: 'u1', generation: 3 };
    const detail = { activity: 'intake', stage: 'pre' as const, plugin: 'p', attempt: 2, message: 'm' };

    const first = lifecycleEvent('plugin.retrying', run, AT, detail);
    const again = lifecycleEvent('plugin.retrying', run, '2026-11-23T11:00:00.000Z', detail);

    expect(lifecycleEventSchema.safeParse(first).success).toBe(true);
    expect(again.eventId).toBe(first.eventId);
    expect(first.eventId).toBe('plugin.retrying:reference:u1:g3:intake:pre:p:a2');
  });
});

describe('lifecycle events across a crash', () => {
  it('publish run.started when the start is redelivered after a crash before the event', async () => {
    const h = createHarness(ONE_ACTIVITY);
    h.journal.failNext('events', 'publish');

    await drive(h, { start: startRequest('u1') });

    expect(h.events.idsOf('run.started')).toEqual(['run.started:reference:u1:g1']);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('publish run.rerun when the rerun is redelivered after a crash before the event', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'pre', name: 'gate' });
    await drive(h, {
      start: startRequest('u1'),
      plugins: { gate: () => ({ status: 'Error', retryable: false }) },
    });
    h.journal.failNext('events', 'publish');

    await drive(h, { start: startRequest('u1', { rerun: true }) });

    expect(h.events.idsOf('run.rerun')).toEqual(['run.rerun:reference:u1:g2']);
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({ state: STATES.complete, generation: 2 });
  });
});
