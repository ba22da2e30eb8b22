/**
 * Which plugins a stage awaits: registered ones, minus those their filter policy excludes at
 * dispatch and those an operator skipped; `overrides[activity].mandatory` decides which gate.
 */
import { describe, expect, it } from 'vitest';
import { STATES } from '../../../lambdas/contracts/index.js';
import { skipPlugin } from '../../../lambdas/engine/operator.js';
import {
  createHarness,
  deliverReport,
  drive,
  lastMessageFor,
  pluginKey,
  register,
  reportFor,
  runKey,
  stageKey,
  startRequest,
} from '../../support/engine-harness.js';

const ONE_ACTIVITY = { workflows: { reference: ['intake'] } };
const TWO_ACTIVITIES = { workflows: { reference: ['intake', 'assess'] } };
const declines = () => ({ status: 'Error', retryable: false, message: 'declined' }) as const;

describe('filter policies at dispatch', () => {
  it('marks a plugin whose filter policy rejects the message Do Not Run and never targets it', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'parallel', name: 'web-only', filterPolicy: { channel: ['web'] } },
      { activity: 'intake', stage: 'parallel', name: 'always' },
    );

    await drive(h, {
      start: startRequest('u1', { metadata: { channel: 'phone' } }),
      plugins: { always: () => undefined },
      sweep: false,
    });

    expect(h.dispatcher.targets()).toEqual([['always']]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'web-only'))).toMatchObject({
      state: STATES.doNotRun,
      message: 'excluded by its subscription filter policy',
    });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'parallel'))).toMatchObject({ mandatoryPending: 1 });
  });

  it('never waits for a mandatory plugin its filter excludes, so the run does not hang', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, {
      activity: 'intake',
      stage: 'pre',
      name: 'web-only',
      mandatory: true,
      filterPolicy: { channel: ['web'] },
    });

    await drive(h, { start: startRequest('u1', { metadata: { channel: 'phone' } }), sweep: false });

    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
    expect(h.dispatcher.published).toEqual([]);
  });

  it('dispatches a plugin whose filter policy matches the message', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, {
      activity: 'intake',
      stage: 'pre',
      name: 'web-only',
      filterPolicy: { channel: ['web'] },
    });

    await drive(h, { start: startRequest('u1', { metadata: { channel: 'web' } }) });

    expect(h.dispatcher.targets()).toEqual([['web-only']]);
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'web-only'))?.state).toBe(STATES.complete);
  });

  it('matches filter policies on the workflow, activity and stage attributes too', async () => {
    const h = createHarness(TWO_ACTIVITIES);
    for (const activity of ['intake', 'assess']) {
      await register(h, {
        activity,
        stage: 'pre',
        name: 'only-assess',
        filterPolicy: { activity: ['assess'] },
      });
    }

    await drive(h, { start: startRequest('u1') });

    expect(h.dispatcher.published.map((p) => [p.message.activity, p.message.plugins])).toEqual([
      ['assess', ['only-assess']],
    ]);
  });
  it('evaluates a body-scoped policy against the plugin message, nested metadata included', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, {
      activity: 'intake',
      stage: 'pre',
      name: 'big-orders',
      filterPolicy: { metadata: { order: { total: [{ numeric: ['>=', 100] }] } } },
      filterPolicyScope: 'MessageBody',
    });

    await drive(h, { start: startRequest('small', { metadata: { order: { total: 20 } } }) });
    await drive(h, { start: startRequest('big', { metadata: { order: { total: 250 } } }) });

    expect(h.store.peekPlugin(pluginKey('small', 'intake', 'pre', 'big-orders'))?.state).toBe(
      STATES.doNotRun,
    );
    expect(h.store.peekPlugin(pluginKey('big', 'intake', 'pre', 'big-orders'))?.state).toBe(STATES.complete);
    expect(h.dispatcher.published.map((p) => p.message.uid)).toEqual(['big']);
  });

  it('uses the SNS operators, e.g. anything-but and prefix on promoted metadata attributes', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, {
      activity: 'intake',
      stage: 'pre',
      name: 'eu-not-test',
      filterPolicy: { region: [{ prefix: 'eu-' }], env: [{ 'anything-but': ['test'] }] },
    });

    for (const [uid, metadata] of [
      ['eu-prod', { region: 'eu-west-1', env: 'prod' }],
      ['eu-test', { region: 'eu-west-1', env: 'test' }],
      ['us-prod', { region: 'us-east-1', env: 'prod' }],
    ] as const) {
      await drive(h, { start: startRequest(uid, { metadata }) });
    }

    expect(h.dispatcher.published.map((p) => p.message.uid)).toEqual(['eu-prod']);
    expect(h.store.findRuns(() => true).map((r) => r.state)).toEqual([
      STATES.complete,
      STATES.complete,
      STATES.complete,
    ]);
  });
});

describe('operator decisions before dispatch', () => {
  it('never dispatches a plugin an operator skipped before its stage started', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'gate' },
      { activity: 'intake', stage: 'parallel', name: 'wanted' },
      { activity: 'intake', stage: 'parallel', name: 'unwanted' },
    );
    await drive(h, { start: startRequest('u1'), plugins: { gate: () => undefined }, sweep: false });

    const skipped = await skipPlugin(h.deps, pluginKey('u1', 'intake', 'parallel', 'unwanted'));
    await deliverReport(h, reportFor(lastMessageFor(h, 'gate'), 'gate', { status: 'Complete' }));
    await drive(h);

    expect(skipped).toBe('skipped');
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'unwanted'))).toMatchObject({
      generation: 1,
      state: STATES.doNotRun,
      message: 'skipped by an operator',
    });
    expect(h.dispatcher.targets()).toEqual([['gate'], ['wanted']]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('survives a crash between naming the stage on the run and writing the mark: a repeated skip lands once', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'gate' },
      { activity: 'intake', stage: 'parallel', name: 'wanted' },
      { activity: 'intake', stage: 'parallel', name: 'unwanted' },
    );
    await drive(h, { start: startRequest('u1'), plugins: { gate: () => undefined }, sweep: false });
    const key = pluginKey('u1', 'intake', 'parallel', 'unwanted');

    h.store.failNext('putPluginsIfAbsent');
    await expect(skipPlugin(h.deps, key)).rejects.toThrow();
    expect(h.store.peekRun(runKey('u1'))?.marked).toEqual(['intake/parallel']);
    expect(await skipPlugin(h.deps, key)).toBe('skipped');
    expect(await skipPlugin(h.deps, key)).toBe('skipped');
    await deliverReport(h, reportFor(lastMessageFor(h, 'gate'), 'gate', { status: 'Complete' }));
    await drive(h);

    expect(h.store.peekRun(runKey('u1'))?.marked).toEqual(['intake/parallel']);
    expect(h.store.peekPlugin(key)).toMatchObject({ state: STATES.doNotRun, generation: 1 });
    expect(h.dispatcher.targets()).toEqual([['gate'], ['wanted']]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });

  it('looks for records written before a stage only in the stage the run names as marked', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(
      h,
      { activity: 'intake', stage: 'pre', name: 'gate' },
      { activity: 'intake', stage: 'parallel', name: 'wanted' },
      { activity: 'intake', stage: 'parallel', name: 'unwanted' },
      { activity: 'intake', stage: 'post', name: 'closer' },
    );
    await drive(h, { start: startRequest('u1'), plugins: { gate: () => undefined }, sweep: false });
    expect(h.journal.of('store', 'listStagePlugins')).toHaveLength(0);

    await skipPlugin(h.deps, pluginKey('u1', 'intake', 'parallel', 'unwanted'));
    expect(h.store.peekRun(runKey('u1'))?.marked).toEqual(['intake/parallel']);
    await deliverReport(h, reportFor(lastMessageFor(h, 'gate'), 'gate', { status: 'Complete' }));
    await drive(h);

    // Only the marked parallel stage listed; pre and post, unmarked in a first run, did not.
    const listed = h.journal
      .of('store', 'listStagePlugins')
      .map((e) => (e.args[0] as { stage: string }).stage);
    expect(listed).toEqual(['parallel']);
    expect(h.dispatcher.targets()).toEqual([['gate'], ['wanted'], ['closer']]);
    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.complete);
  });
});

describe('overrides[activity].mandatory', () => {
  it('makes a default-mandatory plugin optional in the overridden activity only', async () => {
    const h = createHarness(TWO_ACTIVITIES);
    for (const activity of ['intake', 'assess']) {
      await register(h, {
        activity,
        stage: 'pre',
        name: 'auditor',
        mandatory: true,
        overrides: { intake: { mandatory: false } },
      });
    }

    await drive(h, { start: startRequest('u1'), plugins: { auditor: declines } });

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'pre', 'auditor'))).toMatchObject({
      mandatory: false,
      state: STATES.error,
    });
    expect(h.store.peekStage(stageKey('u1', 'intake', 'pre'))?.state).toBe(STATES.complete);
    expect(h.store.peekRun(runKey('u1'))).toMatchObject({
      state: STATES.error,
      message: 'assess/pre: auditor: declined',
    });
  });

  it('makes a default-optional plugin gate the overridden activity', async () => {
    const h = createHarness(ONE_ACTIVITY);
    await register(h, {
      activity: 'intake',
      stage: 'parallel',
      name: 'auditor',
      mandatory: false,
      overrides: { intake: { mandatory: true } },
    });

    await drive(h, { start: startRequest('u1'), plugins: { auditor: declines } });

    expect(h.store.peekRun(runKey('u1'))?.state).toBe(STATES.error);
    expect(lastMessageFor(h, 'auditor').stage).toBe('parallel');
  });
});
