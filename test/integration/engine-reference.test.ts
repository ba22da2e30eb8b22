/**
 * The engine with its real adapters on moto: SNS topics with the real filter policies, SQS inboxes,
 * the status table. Faults moto cannot produce (duplicates, reordering, crashes) are injected here.
 */
import { describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import type { FakePlugin } from '../support/orchestra.js';
import {
  ACTIVITIES,
  expectCompletedOnce,
  referenceOrchestra,
  referencePlugins,
  WORKFLOW,
} from '../support/reference.js';

const moto = useMoto();
const orchestra = (plugins: FakePlugin[]) => referenceOrchestra(moto.endpoint, plugins);

describe('a reference run on moto', () => {
  it('runs 3 activities × (1 pre + 5 parallel + 1 post) plugins to completion, in stage order', async () => {
    const o = await orchestra(referencePlugins());
    const started = await o.start({ workflow: WORKFLOW, uid: 'ref-1' });
    expect(started).toMatchObject({ ok: true, outcome: 'started' });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'ref-1' });

    expectCompletedOnce(snapshot);
    const order = o.published.map((m) => `${m.activity}/${m.stage}`);
    expect([...new Set(order)]).toEqual(
      ACTIVITIES.flatMap((a) => [`${a}/pre`, `${a}/parallel`, `${a}/post`]),
    );
    const parallel = o.published.filter((m) => m.stage === 'parallel');
    expect(parallel).toHaveLength(3);
    expect(parallel.every((m) => m.plugins.length === 5)).toBe(true);
    const events = await o.drainEvents();
    expect(events.map((e) => e.type)).toEqual(['run.started', 'run.completed']);
    const result = snapshot.plugins.find((p) => p.plugin === 'notify-post')?.result;
    expect(result).toEqual({ by: 'notify-post' });
  });

  it('completes exactly once when every inbox message is delivered twice', async () => {
    const o = await orchestra(referencePlugins());
    await o.start({ workflow: WORKFLOW, uid: 'dup-1' });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'dup-1' }, { duplicate: true });

    expectCompletedOnce(snapshot);
    const completed = (await o.drainEvents()).filter((e) => e.type === 'run.completed');
    expect(new Set(completed.map((e) => e.eventId)).size).toBe(1);
  });

  it('completes when reports arrive shuffled', async () => {
    const o = await orchestra(referencePlugins());
    await o.start({ workflow: WORKFLOW, uid: 'shuffled-1' });

    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'shuffled-1' }, { shuffleSeed: 7 });

    expectCompletedOnce(snapshot);
  });

  it('starts a run once when the same uid is started twice', async () => {
    const o = await orchestra(referencePlugins());
    const first = await o.start({ workflow: WORKFLOW, uid: 'same-1' });
    const second = await o.start({ workflow: WORKFLOW, uid: 'same-1' });

    expect(first).toMatchObject({ ok: true, outcome: 'started' });
    expect(second).toMatchObject({ ok: true, outcome: 'existing' });
    const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid: 'same-1' });
    expectCompletedOnce(snapshot);
    expect(o.published.filter((m) => m.activity === 'intake' && m.stage === 'pre')).toHaveLength(1);
  });
});
