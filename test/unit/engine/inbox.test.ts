/**
 * What a stage inbox batch means (engine/inbox.ts): grouping by run, the order within a run, the
 * handling of failures, and the time guard — the one implementation the stage handler and the
 * harness share.
 */
import { describe, expect, it } from 'vitest';
import { type Command, STATES } from '../../../lambdas/contracts/index.js';
import { handleInboxBatch, type InboxItem } from '../../../lambdas/engine/inbox.js';
import {
  createHarness,
  drive,
  type EngineHarness,
  lastMessageFor,
  pluginKey,
  register,
  reportFor,
  runKey,
  startRequest,
} from '../../support/engine-harness.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };
const PARALLEL = { activity: 'intake', stage: 'parallel' } as const;
const silent = () => undefined;

async function inFlight(h: EngineHarness, ...uids: string[]): Promise<void> {
  await register(h, { ...PARALLEL, name: 'a' });
  for (const uid of uids) {
    await drive(h, { start: startRequest(uid), plugins: { a: silent }, sweep: false });
  }
}

const item = (id: string, message: InboxItem['message'], redelivered = false): InboxItem => ({
  id,
  message,
  redelivered,
});

const timeout = (uid: string): Extract<Command, { kind: 'timeout' }> => ({
  schemaVersion: 1,
  kind: 'timeout',
  workflow: 'reference',
  uid,
  generation: 1,
  ...PARALLEL,
  plugin: 'a',
  attempt: 1,
});

describe('an inbox batch', () => {
  it('applies an on-time report before a timeout of the same attempt that came first', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await inFlight(h, 'u1');
    h.clock.advanceSeconds(61); // past the deadline: the timeout alone would retry the plugin
    const report = reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' });

    const outcome = await handleInboxBatch(h.deps, PARALLEL, [item('t', timeout('u1')), item('r', report)]);

    expect(outcome).toEqual({ retry: [], quarantine: [] });
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({
      state: STATES.complete,
      attempt: 1,
    });
    expect(h.commands.ofKind('retry')).toEqual([]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('handles the runs of a batch side by side, each once', async () => {
    const h = createHarness(ONE_ACTIVITY);
    const uids = ['u1', 'u2', 'u3', 'u4'];
    await inFlight(h, ...uids);
    const items = uids.map((uid) =>
      item(uid, reportFor(lastMessageForRun(h, uid), 'a', { status: 'Complete' })),
    );

    const outcome = await handleInboxBatch(h.deps, PARALLEL, items, { concurrency: 4 });

    expect(outcome).toEqual({ retry: [], quarantine: [] });
    for (const uid of uids) expect(h.store.peekRun(runKey(uid))?.state).toBe(STATES.complete);
    expect(h.events.ofType('run.completed')).toHaveLength(4);
  });

  it('hands a run group back, untouched, when too little time is left to start it', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await inFlight(h, 'u1', 'u2');
    let remaining = 20_000;
    const items = ['u1', 'u2'].map((uid) =>
      item(uid, reportFor(lastMessageForRun(h, uid), 'a', { status: 'Complete' })),
    );
    const deps = {
      ...h.deps,
      store: new Proxy(h.store, {
        get: (target, property, receiver) => {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (property !== 'readStage' || typeof value !== 'function') return value;
          // The first group's work uses up the time.
          return async (...args: unknown[]) => {
            remaining = 1_000;
            return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        },
      }),
    };

    const outcome = await handleInboxBatch(deps, PARALLEL, items, {
      concurrency: 1,
      remainingMs: () => remaining,
    });

    expect(outcome).toEqual({ retry: ['u2'], quarantine: [] });
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
    expect(h.store.peekPlugin(pluginKey('u2', 'intake', 'parallel', 'a'))?.state).toBe(STATES.inProgress);
  });

  it('quarantines a misrouted message and a message for an unknown run, and nothing else', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await inFlight(h, 'u1');
    const report = reportFor(lastMessageFor(h, 'a'), 'a', { status: 'Complete' });

    const outcome = await handleInboxBatch(h.deps, PARALLEL, [
      item('misrouted', { ...report, stage: 'post' }),
      item('ghost', { ...report, uid: 'ghost' }),
      item('good', report),
    ]);

    expect(outcome.retry).toEqual([]);
    expect(outcome.quarantine.map((q) => q.id).sort()).toEqual(['ghost', 'misrouted']);
    expect(outcome.quarantine.find((q) => q.id === 'misrouted')?.reason).toContain(
      'addressed to intake/post, but this is the inbox of intake/parallel',
    );
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });
});

function lastMessageForRun(h: EngineHarness, uid: string) {
  const found = [...h.dispatcher.published].reverse().find((p) => p.message.uid === uid);
  if (!found) throw new Error(`nothing was published for run ${uid}`);
  return found.message;
}
