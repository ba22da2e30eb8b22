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
  // A reference run makes about 40 store writes (narrow stages hold their plugins, ADR 0007), 9
  // publishes and 2 events, and sends no command: the hand-off between stages is inline (ADR 0005).
  // Store writes are crashed at points spread over a probe run's count (the first, a few early ones,
  // the middle and the last ones, whatever the exact count). Commands (retries, timeouts) are crashed
  // in the unit tests' crash-after-every-step runs.
  const kinds = [
    { kind: 'store-write', points: 'spread' },
    { kind: 'publish', points: [0, 2, 5, 8] },
    { kind: 'event', points: [0, 1] },
  ] as const;
  for (const { kind, points: planned } of kinds) {
    const label = planned === 'spread' ? 'spread over a run' : planned.join(', ');
    it(`completes exactly once with a crash before the n-th ${kind} (n = ${label})`, async () => {
      const injector = new CrashInjector();
      const o = await Orchestra.create({
        endpoint: moto.endpoint,
        workflows: { [WORKFLOW]: ACTIVITIES },
        plugins: referencePlugins(),
        wrap: injector.wrap,
      });
      let points: readonly number[] = planned === 'spread' ? [] : planned;
      if (planned === 'spread') {
        // Probe: one run without a crash counts the writes.
        await o.start({ workflow: WORKFLOW, uid: 'probe' });
        expectCompletedOnce(
          await o.runUntilSettled({ workflow: WORKFLOW, uid: 'probe' }, { maxRounds: 400 }),
        );
        const writes = injector.seen['store-write'];
        expect(writes, 'store writes of one reference run').toBeGreaterThan(20);
        points = [...new Set([0, 3, 9, Math.floor(writes / 2), writes - 8, writes - 3, writes - 1])];
      }
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
      expect(new Set(completed.map((e) => e.uid).filter((uid) => uid !== 'probe')).size).toBe(points.length);
    });
  }
});
