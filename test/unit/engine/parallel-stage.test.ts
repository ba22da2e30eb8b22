import { describe, expect, it } from 'vitest';
import { STATES } from '../../../lambdas/contracts/index.js';
import {
  createHarness,
  deliverReport,
  drive,
  type EngineHarness,
  lastMessageFor,
  pluginKey,
  register,
  reportFor,
  runKey,
  stageKey,
  startRequest,
} from '../../support/engine-harness.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };
const NAMES = ['p-echo', 'p-alpha', 'p-delta', 'p-bravo', 'p-charlie'];

async function fiveParallelPlugins(h: EngineHarness): Promise<void> {
  for (const name of NAMES) {
    await register(h, {
      activity: 'intake',
      stage: 'parallel',
      name,
      mandatory: name !== 'p-echo',
      ...(name === 'p-delta' ? { deadlineSeconds: 300, order: 1 } : {}),
    });
  }
  await register(h, { activity: 'intake', stage: 'post', name: 'recorder' });
}

describe('the parallel stage', () => {
  it('dispatches every expected plugin in one publish whose plugins list names them all', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await fiveParallelPlugins(h);

    await drive(h, {
      start: startRequest('u1'),
      plugins: Object.fromEntries(NAMES.map((n) => [n, () => undefined])),
      sweep: false,
    });

    expect(h.dispatcher.published).toHaveLength(1);
    const [published] = h.dispatcher.published;
    expect(published?.message).toMatchObject({ stage: 'parallel', attempt: 1 });
    expect([...(published?.message.plugins ?? [])].sort()).toEqual([...NAMES].sort());
    expect(published?.attributes.plugins).toEqual({
      DataType: 'String.Array',
      StringValue: JSON.stringify(published?.message.plugins),
    });
    expect(published?.message.deadlines).toEqual({
      'p-alpha': '2026-11-23T10:01:00.000Z',
      'p-bravo': '2026-11-23T10:01:00.000Z',
      'p-charlie': '2026-11-23T10:01:00.000Z',
      'p-delta': '2026-11-23T10:05:00.000Z',
      'p-echo': '2026-11-23T10:01:00.000Z',
    });
  });

  it('records every parallel plugin In Progress at attempt 1 with its deadline when it dispatches', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await fiveParallelPlugins(h);

    await drive(h, {
      start: startRequest('u1'),
      plugins: Object.fromEntries(NAMES.map((n) => [n, () => undefined])),
      sweep: false,
    });

    const records = h.store.allPlugins().filter((p) => p.stage === 'parallel');
    expect(records.map((p) => [p.plugin, p.state, p.attempt]).sort()).toEqual(
      [...NAMES].sort().map((name) => [name, STATES.inProgress, 1]),
    );
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      mode: 'parallel',
      state: STATES.inProgress,
      mandatoryPending: 4,
      optionalPending: 1,
    });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).not.toHaveProperty('sequence');
  });

  it('completes when the last awaited plugin reports, and only then requests the post stage', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await fiveParallelPlugins(h);
    await drive(h, {
      start: startRequest('u1'),
      plugins: Object.fromEntries(NAMES.map((n) => [n, () => undefined])),
      sweep: false,
    });
    const message = lastMessageFor(h, 'p-alpha');

    for (const name of NAMES.slice(0, 4))
      await deliverReport(h, reportFor(message, name, { status: 'Complete' }));
    const beforeLast = {
      stage: h.store.peekStage(stageKey('u1', 'intake', 'parallel')),
      post: h.dispatcher.toStage('post'),
    };
    await deliverReport(h, reportFor(message, 'p-charlie', { status: 'Complete' }));

    expect(beforeLast.stage).toMatchObject({
      state: STATES.inProgress,
      mandatoryPending: 1,
      optionalPending: 0,
    });
    expect(beforeLast.post).toEqual([]);
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({
      state: STATES.complete,
      mandatoryPending: 0,
      optionalPending: 0,
    });
    expect(h.dispatcher.toStage('post')).toHaveLength(1);
  });

  it('completes at once without publishing when no plugin is registered for it', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, { activity: 'intake', stage: 'post', name: 'recorder' });

    await drive(h, { start: startRequest('u1') });

    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))?.state).toBe(STATES.complete);
    expect(h.dispatcher.targets()).toEqual([['recorder']]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('stores each plugin outcome on its own record', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await fiveParallelPlugins(h);

    await drive(h, {
      start: startRequest('u1'),
      plugins: { 'p-bravo': () => ({ status: 'Complete', result: { id: 'b' } }) },
    });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'p-bravo'))?.result).toEqual({ id: 'b' });
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'p-alpha'))).not.toHaveProperty('result');
  });
});
