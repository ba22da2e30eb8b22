/**
 * The liveness check with in-memory ports and a fake clock: counts per workflow (zeros included),
 * the inactive and stuck thresholds, one alert per stuck episode, re-alerting after recovery, and
 * what happens when an alert cannot be published.
 */
import { describe, expect, it } from 'vitest';
import { AlertDeliveryError, UnreadableRunError } from '../../metrics/errors.js';
import type { ActiveRun, LivenessDatum, StuckRunAlert } from '../../metrics/liveness.js';
import {
  type ActiveRunReader,
  type AlertLedger,
  type AlertSender,
  checkLiveness,
  type MetricSink,
  type MonitorDeps,
  type MonitorSettings,
  mapLimited,
  type StageRef,
  stageRefKey,
} from '../../metrics/monitor.js';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const MIN = 60_000;
const iso = (ms: number) => new Date(T0 + ms).toISOString();

interface StoredRun {
  workflow: string;
  uid: string;
  createdAt: string;
  updatedAt: string;
  position?: { activity: string; stage: string };
  active: boolean;
  alertedProgress?: string;
  alertedAt?: string;
}

/** An in-memory status table with the semantics the DynamoDB adapter gives the ports. */
class World implements ActiveRunReader, AlertLedger, AlertSender, MetricSink {
  now = T0;
  readonly runs = new Map<string, StoredRun>();
  readonly stages = new Map<string, string>();
  readonly sent: StuckRunAlert[] = [];
  readonly puts: { datums: readonly LivenessDatum[]; at: Date }[] = [];
  readonly unreadable: UnreadableRunError[] = [];
  failPublishes = 0;
  readonly calls = { countActive: 0, listStale: 0, stageUpdatedAt: 0, claim: 0, release: 0 };

  startRun(workflow: string, uid: string, at = this.now, position?: StoredRun['position']): StoredRun {
    const run: StoredRun = {
      workflow,
      uid,
      createdAt: new Date(at).toISOString(),
      updatedAt: new Date(at).toISOString(),
      active: true,
      ...(position ? { position } : {}),
    };
    this.runs.set(`${workflow}/${uid}`, run);
    return run;
  }

  touchRun(workflow: string, uid: string, at = this.now): void {
    const run = this.run(workflow, uid);
    run.updatedAt = new Date(at).toISOString();
  }

  touchStage(workflow: string, uid: string, activity: string, stage: string, at = this.now): void {
    this.stages.set(stageRefKey({ workflow, uid, activity, stage }), new Date(at).toISOString());
  }

  finish(workflow: string, uid: string): void {
    const run = this.run(workflow, uid);
    run.active = false;
    run.updatedAt = new Date(this.now).toISOString();
  }

  run(workflow: string, uid: string): StoredRun {
    const run = this.runs.get(`${workflow}/${uid}`);
    if (!run) throw new Error(`no run ${workflow}/${uid}`);
    return run;
  }

  advance(ms: number): void {
    this.now += ms;
  }

  // ---- ports
  readonly clock = { now: () => new Date(this.now) };

  async countActive(workflow: string, cutoff: string) {
    this.calls.countActive += 1;
    const active = [...this.runs.values()].filter((r) => r.active && r.workflow === workflow);
    return { total: active.length, stale: active.filter((r) => r.updatedAt <= cutoff).length };
  }

  async listStale(workflow: string, cutoff: string) {
    this.calls.listStale += 1;
    const runs: ActiveRun[] = [...this.runs.values()]
      .filter((r) => r.active && r.workflow === workflow && r.updatedAt <= cutoff)
      .map((r) => ({
        workflow: r.workflow,
        uid: r.uid,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        ...(r.position ? { position: r.position } : {}),
        ...(r.alertedProgress ? { alertedProgress: r.alertedProgress } : {}),
      }));
    return { runs, unreadable: this.unreadable };
  }

  async stageUpdatedAt(refs: readonly StageRef[]) {
    this.calls.stageUpdatedAt += 1;
    const found = new Map<string, string>();
    for (const ref of refs) {
      const at = this.stages.get(stageRefKey(ref));
      if (at) found.set(stageRefKey(ref), at);
    }
    return found;
  }

  async claim(read: ActiveRun, progress: string, at: Date) {
    this.calls.claim += 1;
    const run = this.runs.get(`${read.workflow}/${read.uid}`);
    if (!run?.active || run.updatedAt !== read.updatedAt || run.alertedProgress === progress) return false;
    run.alertedProgress = progress;
    run.alertedAt = at.toISOString();
    return true;
  }

  async release(read: ActiveRun, progress: string, at: Date) {
    this.calls.release += 1;
    const run = this.runs.get(`${read.workflow}/${read.uid}`);
    if (run && run.alertedProgress === progress && run.alertedAt === at.toISOString()) {
      delete run.alertedProgress;
      delete run.alertedAt;
    }
  }

  async send(alert: StuckRunAlert) {
    if (this.failPublishes > 0) {
      this.failPublishes -= 1;
      throw new Error('SNS is unavailable');
    }
    this.sent.push(alert);
  }

  async put(datums: readonly LivenessDatum[], at: Date) {
    this.puts.push({ datums, at });
    return 1;
  }
}

const settings: MonitorSettings = {
  deploymentStage: 'dev',
  workflows: ['orders', 'refunds', 'quiet'],
  inactiveMinutes: 10,
  stuckMinutes: 20,
};

function deps(world: World): MonitorDeps {
  return {
    reader: world,
    ledger: world,
    alerts: world,
    metrics: world,
    clock: world.clock,
    log: { info: () => undefined, warn: () => undefined },
  };
}

/** The value of one metric in the last put, by name and workflow (undefined = the all-workflow total). */
function lastValue(world: World, metricName: string, workflow?: string): number | undefined {
  const put = world.puts.at(-1);
  const datum = put?.datums.find(
    (d) =>
      d.metricName === metricName &&
      (workflow === undefined
        ? d.dimensions.length === 1
        : d.dimensions.some((x) => x.name === 'workflow' && x.value === workflow)),
  );
  return datum?.value;
}

describe('counts', () => {
  it('puts ActiveWorkflows, InactiveWorkflows and StuckWorkflows as zeros for every configured workflow when nothing runs', async () => {
    const world = new World();

    const report = await checkLiveness(deps(world), settings);

    expect(world.puts).toHaveLength(1);
    for (const workflow of settings.workflows) {
      expect(lastValue(world, 'ActiveWorkflows', workflow)).toBe(0);
      expect(lastValue(world, 'InactiveWorkflows', workflow)).toBe(0);
      expect(lastValue(world, 'StuckWorkflows', workflow)).toBe(0);
    }
    expect(lastValue(world, 'StuckWorkflows')).toBe(0);
    expect(report.datums).toBe(3 * settings.workflows.length + 3);
    expect(report.workflows.map((w) => w.workflow)).toEqual(settings.workflows);
  });

  it('stamps every datum with the check time and the deploymentStage dimension', async () => {
    const world = new World();
    world.advance(42_000);

    await checkLiveness(deps(world), settings);

    const put = world.puts[0];
    expect(put?.at.toISOString()).toBe(iso(42_000));
    expect(
      put?.datums.every(
        (d) => d.dimensions[0]?.name === 'deploymentStage' && d.dimensions[0]?.value === 'dev',
      ),
    ).toBe(true);
  });

  it('counts active runs per workflow and sums them in the all-workflow datum', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.startRun('orders', 'o-2');
    world.startRun('refunds', 'r-1');

    await checkLiveness(deps(world), settings);

    expect(lastValue(world, 'ActiveWorkflows', 'orders')).toBe(2);
    expect(lastValue(world, 'ActiveWorkflows', 'refunds')).toBe(1);
    expect(lastValue(world, 'ActiveWorkflows', 'quiet')).toBe(0);
    expect(lastValue(world, 'ActiveWorkflows')).toBe(3);
  });

  it('stops counting a run once it finishes', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    await checkLiveness(deps(world), settings);
    world.finish('orders', 'o-1');

    await checkLiveness(deps(world), settings);

    expect(world.puts.map((p) => p.datums.find((d) => d.metricName === 'ActiveWorkflows')?.value)).toEqual([
      1, 0,
    ]);
  });

  it('reads no run items when no run is older than the inactive threshold (the count query is enough)', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(9 * MIN);

    await checkLiveness(deps(world), settings);

    expect(world.calls.countActive).toBe(3);
    expect(world.calls.listStale).toBe(0);
    expect(world.calls.stageUpdatedAt).toBe(0);
  });
});

describe('thresholds', () => {
  it.each([
    { idle: 9 * MIN + 59_000, inactive: 0, stuck: 0 },
    { idle: 10 * MIN, inactive: 1, stuck: 0 },
    { idle: 19 * MIN + 59_000, inactive: 1, stuck: 0 },
    { idle: 20 * MIN, inactive: 0, stuck: 1 },
    { idle: 3 * 60 * MIN, inactive: 0, stuck: 1 },
  ])(
    'a run idle for $idle ms counts as inactive=$inactive, stuck=$stuck',
    async ({ idle, inactive, stuck }) => {
      const world = new World();
      world.startRun('orders', 'o-1');
      world.advance(idle);

      await checkLiveness(deps(world), settings);

      expect(lastValue(world, 'ActiveWorkflows', 'orders')).toBe(1);
      expect(lastValue(world, 'InactiveWorkflows', 'orders')).toBe(inactive);
      expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(stuck);
    },
  );

  it('uses the configured thresholds instead of the defaults', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(3 * MIN);

    await checkLiveness(deps(world), { ...settings, inactiveMinutes: 1, stuckMinutes: 3 });

    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(1);
  });

  it('counts a run whose stage item moved recently as progressing, although its run item is old', async () => {
    const world = new World();
    world.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'parallel' });
    world.advance(25 * MIN);
    world.touchStage('orders', 'o-1', 'check', 'parallel', T0 + 24 * MIN);

    await checkLiveness(deps(world), settings);

    expect(lastValue(world, 'InactiveWorkflows', 'orders')).toBe(0);
    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(0);
    expect(world.sent).toHaveLength(0);
  });

  it('takes progress from the stages of the activity the run is in, not from other activities', async () => {
    const world = new World();
    world.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'pre' });
    world.advance(25 * MIN);
    world.touchStage('orders', 'o-1', 'ship', 'parallel', T0 + 24 * MIN);

    await checkLiveness(deps(world), settings);

    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(1);
  });

  it("takes progress from any stage of the run's activity: the run names the activity, not the stage", async () => {
    const world = new World();
    world.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'pre' });
    world.touchStage('orders', 'o-1', 'check', 'pre', T0);
    world.advance(25 * MIN);
    world.touchStage('orders', 'o-1', 'check', 'post', T0 + 24 * MIN);

    await checkLiveness(deps(world), settings);

    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(0);
    expect(lastValue(world, 'InactiveWorkflows', 'orders')).toBe(0);
  });

  it('uses the run item when it is newer than the stage item', async () => {
    const world = new World();
    world.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'pre' });
    world.touchStage('orders', 'o-1', 'check', 'pre', T0);
    world.advance(25 * MIN);
    world.touchRun('orders', 'o-1', T0 + 12 * MIN);

    await checkLiveness(deps(world), settings);

    expect(lastValue(world, 'InactiveWorkflows', 'orders')).toBe(1);
    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(0);
  });

  it('skips an unreadable run item, still puts the metrics, and logs which item it was', async () => {
    const world = new World();
    world.unreadable.push(new UnreadableRunError('RUN#orders#bad', '"updatedAt" must be an ISO-8601 time'));
    world.startRun('orders', 'o-1');
    world.advance(25 * MIN);
    const warnings: Record<string, unknown>[] = [];

    await checkLiveness(
      { ...deps(world), log: { info: () => undefined, warn: (_m, d) => warnings.push(d) } },
      settings,
    );

    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(1);
    expect(warnings).toContainEqual(expect.objectContaining({ pk: 'RUN#orders#bad' }));
  });
});

describe('stuck-run alerts', () => {
  it('publishes one alert naming the workflow, uid, position, minutes without progress and the CLI command', async () => {
    const world = new World();
    world.startRun('orders', 'o-7', T0, { activity: 'billing', stage: 'parallel' });
    world.advance(27 * MIN + 30_000);

    const report = await checkLiveness(deps(world), settings);

    expect(world.sent).toHaveLength(1);
    const alert = world.sent[0];
    expect(alert?.workflow).toBe('orders');
    expect(alert?.uid).toBe('o-7');
    expect(alert?.subject).toBe('Plugboard dev: run orders/o-7 stuck for 27 min');
    expect(alert?.message).toContain('no progress for 27 minutes');
    expect(alert?.message).toContain('activity "billing", stage "parallel"');
    expect(alert?.message).toContain('npx plugboard --stage dev status orders o-7');
    expect(report.alerted).toEqual([{ workflow: 'orders', uid: 'o-7' }]);
  });

  it('alerts once per stuck run however many checks see it stuck', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.startRun('refunds', 'r-1');
    world.advance(20 * MIN);

    for (let check = 0; check < 10; check += 1) {
      await checkLiveness(deps(world), settings);
      world.advance(MIN);
    }

    expect(world.sent.map((a) => `${a.workflow}/${a.uid}`).sort()).toEqual(['orders/o-1', 'refunds/r-1']);
    expect(lastValue(world, 'StuckWorkflows')).toBe(2);
  });

  it('does not write the run item again once the episode is alerted', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(21 * MIN);
    await checkLiveness(deps(world), settings);

    const report = await checkLiveness(deps(world), settings);

    expect(world.calls.claim).toBe(1);
    expect(report.alreadyAlerted).toBe(1);
  });

  it('alerts again when a run recovers (progress moves on) and then gets stuck again', async () => {
    const world = new World();
    world.startRun('orders', 'o-1', T0, { activity: 'check', stage: 'parallel' });
    world.advance(21 * MIN);
    await checkLiveness(deps(world), settings);
    world.touchStage('orders', 'o-1', 'check', 'parallel');
    world.advance(MIN);
    await checkLiveness(deps(world), settings);
    expect(lastValue(world, 'StuckWorkflows', 'orders')).toBe(0);

    world.advance(20 * MIN);
    await checkLiveness(deps(world), settings);

    expect(world.sent).toHaveLength(2);
    expect(world.sent[1]?.message).toContain(`last progress:    ${iso(21 * MIN)}`);
  });

  it('sends only one alert when two checks race on the same stuck run', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(30 * MIN);

    await Promise.all([checkLiveness(deps(world), settings), checkLiveness(deps(world), settings)]);

    expect(world.sent).toHaveLength(1);
  });

  it('does not alert for a run that progressed between the read and the claim', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(30 * MIN);
    const racingLedger: AlertLedger = {
      claim: async (run, progress, at) => {
        world.touchRun('orders', 'o-1');
        return world.claim(run, progress, at);
      },
      release: (run, progress, at) => world.release(run, progress, at),
    };

    await checkLiveness({ ...deps(world), ledger: racingLedger }, settings);

    expect(world.sent).toHaveLength(0);
  });

  it('puts the metrics, releases the claim and fails when the alert cannot be published; the next check sends it', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(30 * MIN);
    world.failPublishes = 1;

    const failed = checkLiveness(deps(world), settings);

    await expect(failed).rejects.toBeInstanceOf(AlertDeliveryError);
    await expect(failed).rejects.toMatchObject({
      retryable: true,
      undelivered: [{ workflow: 'orders', uid: 'o-1' }],
    });
    expect(world.puts).toHaveLength(1);
    expect(world.run('orders', 'o-1').alertedProgress).toBeUndefined();

    world.advance(MIN);
    await checkLiveness(deps(world), settings);
    expect(world.sent).toHaveLength(1);
  });

  it('still alerts the other stuck runs when one publish fails', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.startRun('orders', 'o-2');
    world.advance(30 * MIN);
    world.failPublishes = 1;

    await expect(checkLiveness(deps(world), settings)).rejects.toBeInstanceOf(AlertDeliveryError);

    expect(world.sent).toHaveLength(1);
  });

  it('sends no alert for inactive runs', async () => {
    const world = new World();
    world.startRun('orders', 'o-1');
    world.advance(15 * MIN);

    await checkLiveness(deps(world), settings);

    expect(world.sent).toHaveLength(0);
  });
});

describe('mapLimited', () => {
  it('keeps the input order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimited([5, 1, 4, 2, 3], 2, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running -= 1;
      return n * 10;
    });

    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });
});
