/**
 * The engine with its real adapters on moto: SNS topics with the real filter policies, SQS inboxes,
 * the status table. Faults moto cannot produce (duplicates, reordering, crashes) are injected here.
 */
import { describe, expect, it } from 'vitest';
import { useMoto } from '../support/moto.js';
import { CrashInjector, Orchestra } from '../support/orchestra.js';
import { ACTIVITIES, expectCompletedOnce, referencePlugins, WORKFLOW } from '../support/reference.js';

const moto = useMoto();

// Each test drives several whole runs through moto: tens of seconds on a loaded machine.
describe('crashes between a write and the next side effect', { timeout: 300_000 }, () => {
  // A reference run makes about 47 store writes, 9 publishes and 2 events, and sends no command: the
  // hand-off between stages is inline (ADR 0005). Commands (retries, timeouts) are crashed in the unit
  // tests' crash-after-every-step runs.
  const kinds = [
    { kind: 'store-write', points: [0, 3, 9, 17, 26, 40, 46] },
    { kind: 'publish', points: [0, 2, 5, 8] },
    { kind: 'event', points: [0, 1] },
  ] as const;
  for (const { kind, points } of kinds) {
    it(`completes exactly once with a crash before the n-th ${kind} (n = ${points.join(', ')})`, async () => {
      const injector = new CrashInjector();
      const o = await Orchestra.create({
        endpoint: moto.endpoint,
        workflows: { [WORKFLOW]: ACTIVITIES },
        plugins: referencePlugins(),
        wrap: injector.wrap,
      });
      for (const point of points) {
        const uid = `crash-${kind}-${point}`;
        injector.arm(kind, point);
        let started = false;
        for (let tries = 0; tries < 3 && !started; tries += 1) {
          try {
            await o.start({ workflow: WORKFLOW, uid });
            started = true;
          } catch {
            // the start function crashed: the caller (queue or CLI) tries again
          }
        }
        const snapshot = await o.runUntilSettled({ workflow: WORKFLOW, uid }, { maxRounds: 400 });
        expectCompletedOnce(snapshot);
      }
      expect(injector.crashes.length).toBe(points.length);
      const completed = (await o.drainEvents()).filter((e) => e.type === 'run.completed');
      expect(new Set(completed.map((e) => e.uid)).size).toBe(points.length);
    });
  }
});
