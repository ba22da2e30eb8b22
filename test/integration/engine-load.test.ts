/**
 * Load test (issue 12, "a defect found under load"): 100 runs of `order` started at once through the
 * start queue, on the local cloud with the real bundles, one in ten with `failPayment: 'always'`
 * (charge-payment fails every attempt; it has 2), the rest normal. It checks, from outside the engine:
 *
 * (a) every run ends within a bounded time, as expected: Complete, or Error for the failing ones;
 * (b) no stage inbox ever holds more than a small constant per run in flight at that stage, and the
 *     inboxes drain once the runs have ended (no flood of redeliveries);
 * (c) every plugin attempt is settled within its deadline + 60 s;
 * (d) no plugin attempt is dispatched more than once, except after a crash of its stage orchestrator;
 * (e) no inbox message ends in a dead-letter queue.
 *
 * How it observes (test/support/load-probe.ts): every AWS request of the functions goes through the
 * local cloud's proxy, and the probe reads the engine's SNS publishes from there — a `plugin-task`
 * message is a dispatch of each plugin it targets (with its attempt and deadline), a `lifecycle`
 * message an event — and every message sent to a queue (start-stage commands: a run entering a
 * stage; timeouts and retries, counted per attempt). The runner's REPORT lines and the handler's
 * "messages handed back" warnings tell crashes of a stage orchestrator. A sampler reads every
 * inbox's ApproximateNumberOfMessages + NotVisible + Delayed every 2 s, and each inbox's dead-letter
 * queue at the end. Then the engine is stopped and the status table read once per run. Nothing here
 * depends on how the engine is built inside, so the same file checks a rewritten engine.
 *
 * Time is compressed as in `npm start` (local/main.ts, docs/local-cloud.md): the sweeper's
 * `rate(1 minute)` fires every second (scheduleSpeedUp 60), batching windows are 5× shorter, failed
 * async invocations are retried at once, one poller per queue with 20 s long polls, two environments
 * per function. Plugin deadlines (10 s) and the engine's retry backoff (2 s) are not compressed.
 *
 * The bounds are meant to leave room for a loaded 2-core machine (RUNS_END_WITHIN_MS says how the
 * run-time bound was estimated; no engine has passed it yet), and are far below what the defect produces (the issue saw runs stuck for 25 minutes, an inbox of
 * 1,249 messages for 3 runs and attempts settled 606 s after their deadline). Set
 * PLUGBOARD_LOAD_REPORT=<file> to write every record the probe took, for analysis.
 */
import { writeFileSync } from 'node:fs';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSnapshot } from '../../lambdas/engine/records.js';
import { DEMO_WORKFLOW, DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import { EXPORTS, STAGE_NAMES } from '../../plugin-kit/src/index.js';
import {
  duplicateDispatches,
  type FinalPlugin,
  InboxSampler,
  LoadProbe,
  settlements,
} from '../support/load-probe.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();

const STAGE = 'local';
const DEPLOYMENT = { stage: STAGE, systemName: 'plugboard' };
const ACTIVITIES = ['intake', 'fulfilment', 'notify'] as const;

/** Runs started at once; every FAIL_EVERY-th one has charge-payment fail on every attempt. */
const RUNS = 100;
const FAIL_EVERY = 10;
const uidOf = (i: number) => `load-${String(i).padStart(3, '0')}`;
const failing = (i: number) => i % FAIL_EVERY === 0;

/**
 * (a) Every run must have ended this long after the burst was sent. The test stops waiting as soon as
 * they have, so a healthy engine passes in far less. The budget: 100 runs × 9 stages, about 60 AWS
 * calls per run at the hot path's target, is about 6,000 requests; moto answered about 36 requests
 * a second during the runs on a 2-core machine at a load average of 14 (2026-12-04), i.e. about
 * 170 s at worst, and a quiet machine answers several times faster. (On the engine of that day only
 * 4–9 of the 100 runs had ended after 150 s.)
 */
const RUNS_END_WITHIN_MS = 180_000;
/**
 * (b) An inbox may hold at most this many messages per run in flight at its stage, plus a constant.
 * A run at a stage has at most: its start-stage command, two reports per plugin (In Progress and
 * final; fulfilment/parallel has 5 plugins), a retry command and a timeout — about 13.
 */
const INBOX_PER_RUN = 15;
const INBOX_SLACK = 20;
/** A run counts as in flight at a stage from its start-stage command until this long after it ended. */
const IN_FLIGHT_GRACE_MS = 10_000;
/** (b) Once every run has ended, every inbox must be down to this within DRAIN_WITHIN_MS. */
const DRAINED_DEPTH = 5;
const DRAIN_WITHIN_MS = 30_000;
/** (c) Every attempt settled within its deadline plus this. */
const SETTLE_AFTER_DEADLINE_MS = 60_000;

let env: DemoEnvironment | undefined;
let sqs: SQSClient | undefined;
const probe = new LoadProbe();
let sampler: InboxSampler | undefined;
let burstSentAt = 0;
let allEndedAt: number | undefined;
let drainedAt: number | undefined;
let measuredAt = 0;
const snapshots = new Map<string, RunSnapshot | undefined>();
/** Messages in each inbox's dead-letter queue at the end, by `activity/stage`. */
const deadLettered = new Map<string, number>();

/** Progress of the hook, printed as it goes (a hang then shows where it is). */
const hookStartedAt = Date.now();
const phase = (what: string) =>
  process.stderr.write(`[engine-load +${((Date.now() - hookStartedAt) / 1000).toFixed(1)} s] ${what}\n`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every (activity/stage) inbox's URL, from the core and activity stacks' exports. */
function inboxUrls(environment: DemoEnvironment): Map<string, string> {
  const exported = environment.local.exports();
  const urls = new Map<string, string>();
  for (const activity of ACTIVITIES) {
    for (const stage of STAGE_NAMES) {
      const url = exported[EXPORTS.inboxUrl(DEPLOYMENT, activity, stage)];
      if (url === undefined) throw new Error(`no inbox URL exported for ${activity}/${stage}`);
      urls.set(`${activity}/${stage}`, url);
    }
  }
  return urls;
}

beforeAll(async () => {
  const assemblies = synthDemo({ stage: STAGE });
  phase('synthesized');
  env = await DemoEnvironment.start(
    assemblies,
    {
      stage: STAGE,
      endpoint: moto.endpoint,
      handleSignals: false,
      // The time compression of npm start (local/main.ts), see the header.
      scheduleSpeedUp: 60,
      batchingWindowSpeedUp: 5,
      asyncRetryDelaysSeconds: [0],
      prewarm: 1,
      defaultConcurrency: 2,
      pollersPerEventSource: 1,
      pollWaitSeconds: 20,
      // A slow bundle load on a loaded machine is not what this test is about.
      initTimeoutMs: 60_000,
      onRequest: probe.onRequest,
      onLog: probe.onLog,
    },
    (what, ms) => phase(`${what} (${(ms / 1000).toFixed(1)} s)`),
  );
  const environment = env;
  phase('both apps deployed');
  probe.setStageFunctions(environment.local.runner.functions());
  await environment.local.runner.warmed();
  sqs = new SQSClient(environment.local.clientConfig());
  const client = sqs;
  const startQueueUrl = environment.local.exports()[EXPORTS.startQueueUrl(DEPLOYMENT)];
  if (startQueueUrl === undefined) throw new Error('the core stack exported no start queue URL');

  sampler = new InboxSampler(
    async (url) =>
      (
        await client.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        )
      ).Attributes ?? {},
    inboxUrls(environment),
    // Every 2 s: nine reads a round, few enough not to slow the engine under test.
    2000,
  );
  sampler.start();

  // The burst: 100 start requests in 10 SendMessageBatch calls, sent together.
  burstSentAt = Date.now();
  await Promise.all(
    Array.from({ length: RUNS / 10 }, (_, batch) =>
      client.send(
        new SendMessageBatchCommand({
          QueueUrl: startQueueUrl,
          Entries: Array.from({ length: 10 }, (_, j) => {
            const i = batch * 10 + j;
            const metadata = failing(i)
              ? { customer: `c-${i}`, failPayment: 'always' }
              : { customer: `c-${i}`, giftWrap: i % 2 === 1 };
            return {
              Id: String(j),
              MessageBody: JSON.stringify({ workflow: DEMO_WORKFLOW, uid: uidOf(i), metadata }),
            };
          }),
        }),
      ),
    ),
  );

  phase(`${RUNS} start requests sent`);

  // Wait for the runs to end (from their lifecycle events: no reads that would slow the engine).
  const endBy = burstSentAt + RUNS_END_WITHIN_MS;
  let said = Date.now();
  while (Date.now() < endBy && probe.ended.size < RUNS) {
    await sleep(500);
    if (Date.now() - said >= 15_000) {
      said = Date.now();
      phase(`${probe.ended.size} runs ended, ${probe.dispatches.length} dispatches`);
    }
  }
  phase(`${probe.ended.size} runs ended`);
  if (probe.ended.size === RUNS) allEndedAt = Math.max(...probe.ended.values());

  // Then for the inboxes to drain (only when every run ended: otherwise they cannot).
  if (allEndedAt !== undefined) {
    const drainBy = Date.now() + DRAIN_WITHIN_MS;
    while (Date.now() < drainBy) {
      const now = await sampler.sampleOnce();
      if (now.every((s) => s.depth <= DRAINED_DEPTH)) {
        drainedAt = Date.now();
        break;
      }
      await sleep(1000);
    }
  }
  await sampler.stop();
  measuredAt = Date.now();
  // What the inboxes quarantined or dead-lettered (`<inbox>-dlq`): a message lost to the engine.
  for (const [stage, url] of inboxUrls(environment)) {
    const attributes = await sampler.read(`${url}-dlq`);
    deadLettered.set(stage, Number(attributes.ApproximateNumberOfMessages ?? 0));
  }
  // Freeze the engine (pollers, schedules, functions) so the status table reads below are quick and
  // see what the measurement saw.
  await environment.local.runner.stop();
  phase('inbox sampling and the engine stopped; reading the runs');

  for (let i = 0; i < RUNS; i += 1) snapshots.set(uidOf(i), await environment.readRun(uidOf(i)));

  phase('runs read');
  const report = process.env.PLUGBOARD_LOAD_REPORT;
  if (report) {
    writeFileSync(
      report,
      JSON.stringify(
        {
          burstSentAt,
          allEndedAt,
          drainedAt,
          measuredAt,
          ended: Object.fromEntries(probe.ended),
          dispatches: probe.dispatches,
          events: probe.events,
          crashes: probe.crashes,
          entries: probe.entries,
          sent: probe.sent,
          invocations: probe.invocations,
          requests: Object.fromEntries(probe.requests),
          samples: sampler.samples,
          deadLettered: Object.fromEntries(deadLettered),
          runs: [...snapshots.values()],
        },
        null,
        1,
      ),
    );
  }
  // Deploying both apps (synthesis too on a fresh machine), then the burst: minutes when loaded.
}, 600_000);

afterAll(async () => {
  await sampler?.stop();
  sqs?.destroy();
  await env?.stop();
});

function finals(): FinalPlugin[] {
  const list: FinalPlugin[] = [];
  for (const snapshot of snapshots.values()) {
    for (const p of snapshot?.plugins ?? []) {
      list.push({
        uid: p.uid,
        stage: `${p.activity}/${p.stage}`,
        plugin: p.plugin,
        state: p.state,
        attempt: p.attempt,
        stateTimes: p.stateTimes,
      });
    }
  }
  return list;
}

describe('100 runs started at once through the start queue (1 in 10 with a payment that always fails)', () => {
  it('(a) ends every run within the bound, Complete or (the failing ones) Error', () => {
    const problems: string[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const uid = uidOf(i);
      const snapshot = snapshots.get(uid);
      const expected = failing(i) ? 'Error' : 'Complete';
      if (!snapshot) {
        problems.push(`${uid}: never created`);
        continue;
      }
      if (snapshot.run.state !== expected) {
        const open = snapshot.plugins
          .filter((p) => p.state === 'In Progress' || p.state === 'Not Started')
          .map((p) => `${p.activity}/${p.stage}/${p.plugin} ${p.state} attempt ${p.attempt}`);
        problems.push(
          `${uid}: ${snapshot.run.state}, expected ${expected} (open: ${open.join(', ') || 'none'})`,
        );
      } else if (
        failing(i) &&
        !(snapshot.run.message ?? '').includes('payment gateway timed out (attempt 2)')
      ) {
        problems.push(`${uid}: Error without charge-payment's attempt-2 message (${snapshot.run.message})`);
      }
    }
    const lastEnd =
      allEndedAt === undefined ? 'not all ended' : `${((allEndedAt - burstSentAt) / 1000).toFixed(1)} s`;
    console.info(`(a) runs ended: ${probe.ended.size}/${RUNS}; last ended after ${lastEnd}`);
    expect(problems, `runs that did not end as expected within ${RUNS_END_WITHIN_MS / 1000} s`).toEqual([]);
    expect(probe.ended.size).toBe(RUNS);
  });

  it('(b) never holds more than a small constant per run in flight in any inbox, and drains after', () => {
    const samples = sampler?.samples ?? [];
    expect(samples.length).toBeGreaterThan(0);
    const peaks = new Map<string, { depth: number; inFlight: number; at: number }>();
    const over: string[] = [];
    for (const s of samples) {
      const inFlight = probe.runsInFlightAt(s.stage, s.at, IN_FLIGHT_GRACE_MS);
      const bound = INBOX_PER_RUN * inFlight + INBOX_SLACK;
      const peak = peaks.get(s.stage);
      if (!peak || s.depth > peak.depth) peaks.set(s.stage, { depth: s.depth, inFlight, at: s.at });
      if (s.depth > bound) {
        over.push(
          `${s.stage} at +${((s.at - burstSentAt) / 1000).toFixed(0)} s: ${s.depth} messages (visible ${s.visible}, in flight ${s.notVisible}, delayed ${s.delayed}) for ${inFlight} runs (bound ${bound})`,
        );
      }
    }
    console.info(
      `(b) inbox peaks: ${[...peaks].map(([stage, p]) => `${stage} ${p.depth} (${p.inFlight} runs in flight, +${((p.at - burstSentAt) / 1000).toFixed(0)} s)`).join('; ')}`,
    );
    const last = new Map(samples.map((s) => [s.stage, s.depth] as const));
    console.info(
      `(b) left after the runs: ${[...last].map(([stage, d]) => `${stage} ${d}`).join('; ')}; drained ${drainedAt === undefined ? 'never' : `${((drainedAt - (allEndedAt ?? 0)) / 1000).toFixed(1)} s after the last run ended`}`,
    );
    expect(over.slice(0, 20), `${over.length} samples over the bound`).toEqual([]);
    expect(
      drainedAt,
      `inboxes still held more than ${DRAINED_DEPTH} messages each after the runs`,
    ).toBeDefined();
  });

  it('(c) settles every plugin attempt within its deadline + 60 s', () => {
    const all = settlements(probe, finals(), measuredAt);
    expect(all.length).toBeGreaterThan(0);
    const late = all.filter((s) => s.lateByMs > SETTLE_AFTER_DEADLINE_MS);
    const unsettled = all.filter((s) => s.settledAt === undefined);
    const worst = [...all].sort((x, y) => y.lateByMs - x.lateByMs)[0];
    console.info(
      `(c) attempts: ${all.length}; settled more than 60 s after the deadline: ${late.length} (never: ${unsettled.length}); worst ${worst ? `${worst.key} ${(worst.lateByMs / 1000).toFixed(0)} s after its deadline` : '-'}`,
    );
    expect(
      late
        .slice(0, 20)
        .map(
          (s) =>
            `${s.key}: ${s.settledAt === undefined ? 'never settled' : `settled ${(s.lateByMs / 1000).toFixed(0)} s after its deadline`}`,
        ),
      `${late.length} attempts settled late`,
    ).toEqual([]);
  });

  it('(d) dispatches no plugin attempt more than once, except after a crash', () => {
    const duplicates = duplicateDispatches(probe);
    const unexplained = duplicates.filter((d) => !d.afterCrash);
    const extra = duplicates.reduce((sum, d) => sum + d.count - 1, 0);
    console.info(
      `(d) dispatches: ${probe.dispatches.length}; attempts dispatched more than once: ${duplicates.length} (${extra} extra publishes; ${unexplained.length} without a crash); stage orchestrator crashes: ${probe.crashes.length}; unreadable requests: ${probe.unreadable}`,
    );
    // The commands behind repeated dispatches: timeouts (from the sweeper) and retries, per attempt.
    for (const kind of ['timeout', 'retry']) {
      const perAttempt = new Map<string, number>();
      for (const s of probe.sent) {
        if (s.kind === kind) {
          const key = `${s.uid}|${s.plugin}|${s.attempt}`;
          perAttempt.set(key, (perAttempt.get(key) ?? 0) + 1);
        }
      }
      const counts = [...perAttempt.values()];
      console.info(
        `(d) ${kind} commands sent: ${counts.reduce((a, b) => a + b, 0)} for ${counts.length} attempts (at most ${Math.max(0, ...counts)} for one attempt)`,
      );
    }
    expect(probe.dispatches.length).toBeGreaterThan(0);
    expect(unexplained.slice(0, 20).map((d) => `${d.key} dispatched ${d.count} times`)).toEqual([]);
  });

  it('(e) dead-letters no inbox message', () => {
    const total = [...deadLettered.values()].reduce((a, b) => a + b, 0);
    console.info(
      `(e) dead-lettered or quarantined: ${[...deadLettered].map(([stage, n]) => `${stage} ${n}`).join('; ')}`,
    );
    expect(deadLettered.size).toBe(ACTIVITIES.length * STAGE_NAMES.length);
    expect(total).toBe(0);
  });
});
