/**
 * `plugboard skip` before the plugin's stage has started (lambdas/engine/operator.ts `skipPlugin`):
 * only a plugin registered for that activity stage can be skipped, and its record carries the
 * registration's values, as the stage would have planned it.
 */
import { describe, expect, it } from 'vitest';
import { STATES } from '../../lambdas/contracts/index.js';
import { ValidationError } from '../../lambdas/engine/errors.js';
import { skipPlugin } from '../../lambdas/engine/operator.js';
import {
  createHarness,
  drive,
  type EngineHarness,
  pluginKey,
  register,
  startRequest,
} from '../support/engine-harness.js';

const silent = () => undefined;

/** intake: pre `gate` (never reports, so parallel and post wait); parallel `a`, `b`; post `notify`. */
async function waitingRun(h: EngineHarness): Promise<void> {
  await register(
    h,
    { activity: 'intake', stage: 'pre', name: 'gate' },
    { activity: 'intake', stage: 'parallel', name: 'b' },
    { activity: 'intake', stage: 'parallel', name: 'a' },
    {
      activity: 'intake',
      stage: 'post',
      name: 'notify',
      mandatory: true,
      order: 7,
      maxAttempts: 5,
      deadlineSeconds: 42,
    },
  );
  await drive(h, { start: startRequest('u1'), plugins: { gate: silent }, sweep: false });
}

describe('skipping a plugin whose stage has not started', () => {
  it('refuses a plugin that is not registered for the stage, naming the registered ones, and writes nothing', async () => {
    const h = createHarness({ workflows: { reference: ['intake'] } });
    await waitingRun(h);

    const skip = skipPlugin(h.deps, pluginKey('u1', 'intake', 'parallel', 'nope'));

    await expect(skip).rejects.toBeInstanceOf(ValidationError);
    await expect(skip).rejects.toThrow(
      'Plugin "nope" is not registered for intake/parallel; the registered ones are a, b.',
    );
    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'nope'))).toBeUndefined();
  });

  it('says so when no plugin at all is registered for the stage', async () => {
    const h = createHarness({ workflows: { reference: ['intake', 'ship'] } });
    await waitingRun(h);

    await expect(skipPlugin(h.deps, pluginKey('u1', 'ship', 'pre', 'nope'))).rejects.toThrow(
      'no plugin is registered there',
    );
  });

  it("records the registry's mandatory, order, attempts and deadline instead of defaults", async () => {
    const h = createHarness({ workflows: { reference: ['intake'] } });
    await waitingRun(h);

    await skipPlugin(h.deps, pluginKey('u1', 'intake', 'post', 'notify'));

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'post', 'notify'))).toMatchObject({
      state: STATES.doNotRun,
      generation: 1,
      mandatory: true,
      order: 7,
      attempt: 0,
      maxAttempts: 5,
      deadlineSeconds: 42,
    });
  });

  it("takes the activity's settings where the registration has none", async () => {
    const h = createHarness({
      workflows: { reference: ['intake'] },
      activities: { intake: { deadlineSeconds: 77, maxAttempts: 4, retryBaseSeconds: 1 } },
    });
    await waitingRun(h);

    await skipPlugin(h.deps, pluginKey('u1', 'intake', 'parallel', 'a'));

    expect(h.store.peekPlugin(pluginKey('u1', 'intake', 'parallel', 'a'))).toMatchObject({
      mandatory: true,
      order: 90,
      maxAttempts: 4,
      deadlineSeconds: 77,
    });
  });
});
