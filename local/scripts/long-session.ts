/**
 * A long session on one kept local cloud: N reference runs of the demo workflow (every plugin runs and
 * completes, as `order-gift` in `npm start`), started in batches on the same local cloud, reporting
 * after every batch moto's resident memory and the batch's wall time, and at the end the wall time of
 * the first and the last 100 runs. It is how docs/local-cloud.md ("A long session") was measured.
 *
 *     npx tsx local/scripts/long-session.ts --runs 300 --batch 20
 *     npx tsx local/scripts/long-session.ts --runs 300 --tracked     # moto_server as installed
 *
 * `--tracked` runs the plain `moto_server` (moto keeps every model object it creates, see
 * local/scripts/moto-server-untracked) instead of the local cloud's default launcher, to compare.
 * `--json <file>` also writes every batch as JSON. The script exits 1 when a run does not complete.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DEMO_WORKFLOW, DemoEnvironment } from '../demo/environment.js';
import { cachedDemo } from '../demo/synth-cache.js';

const USAGE = `Usage: npx tsx local/scripts/long-session.ts [--runs N] [--batch B] [--tracked] [--json <file>]

  --runs N       reference runs in all (default 300; at least one batch)
  --batch B      runs started at once, then awaited (default 20)
  --tracked      use moto_server as installed instead of local/scripts/moto-server-untracked
  --json <file>  also write the measurements as JSON`;

interface Batch {
  readonly batch: number;
  readonly runsDone: number;
  readonly wallMs: number;
  readonly motoRssMb: number;
  /** The machine's 1-minute load average when the batch ended: other work on the machine slows batches. */
  readonly load1: number;
}

function fail(message: string): never {
  process.stderr.write(`long-session: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function options() {
  let values: { runs?: string; batch?: string; tracked?: boolean; json?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      strict: true,
      options: {
        runs: { type: 'string' },
        batch: { type: 'string' },
        tracked: { type: 'boolean' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    fail((error as Error).message.split('\n')[0] ?? String(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const positive = (name: string, text: string | undefined, fallback: number) => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer, got "${text}"`);
    return value;
  };
  const batch = positive('batch', values.batch, 20);
  const runs = positive('runs', values.runs, 300);
  return { runs: Math.max(runs, batch), batch, tracked: values.tracked === true, json: values.json };
}

/** Resident memory of a process in MB, from /proc (Linux). */
function rssMb(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Wall time of the batches that hold runs [from, to) (whole batches). */
function wallOf(batches: readonly Batch[], batchSize: number, from: number, to: number): number {
  return batches
    .filter((b) => b.runsDone - batchSize >= from && b.runsDone <= to)
    .reduce((sum, b) => sum + b.wallMs, 0);
}

async function main(): Promise<number> {
  const { runs, batch: batchSize, tracked, json } = options();
  const assemblies =
    cachedDemo({ stage: 'local' }) ?? (await import('../demo/synth.js')).synthDemo({ stage: 'local' });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const env = await DemoEnvironment.start(assemblies, {
    stage: 'local',
    // What `npm start -- --keep` runs (local/main.ts), so the measurement is of that cloud.
    scheduleSpeedUp: 60,
    batchingWindowSpeedUp: 5,
    asyncRetryDelaysSeconds: [0],
    prewarm: 1,
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    pollWaitSeconds: 20,
    forwardMetrics: true,
    ...(tracked ? { motoCommand: 'moto_server' } : {}),
    onLog: (entry) => {
      if (entry.kind === 'runner' && entry.level === 'warn') say(`  [local-cloud] ${entry.message}`);
    },
  });
  const pid = env.local.cloud.pid;
  const batches: Batch[] = [];
  let failed = 0;
  try {
    say(
      `long session: ${runs} reference runs of ${DEMO_WORKFLOW} in batches of ${batchSize}, moto ${tracked ? 'as installed (tracked)' : 'untracked (the default)'}; moto RSS at start ${rssMb(pid).toFixed(0)} MB`,
    );
    say('batch  runs  wall s  per run ms  moto RSS MB  load');
    for (let done = 0, index = 1; done < runs; index += 1) {
      const size = Math.min(batchSize, runs - done);
      const uids = Array.from({ length: size }, (_, i) => `long-${String(done + i + 1).padStart(5, '0')}`);
      const started = performance.now();
      await Promise.all(
        uids.map((uid, i) => env.startRun({ uid, metadata: { customer: `c-${i}`, giftWrap: true } })),
      );
      let finished: Awaited<ReturnType<typeof env.waitForRun>>[];
      try {
        finished = await Promise.all(
          uids.map((uid) => env.waitForRun(uid, { timeoutMs: 600_000, intervalMs: 500 })),
        );
      } catch (error) {
        // A run that never ends stops the session; what was measured so far is still reported.
        say(`batch ${index} stopped: ${error instanceof Error ? error.message : String(error)}`);
        failed += size;
        break;
      }
      const wallMs = performance.now() - started;
      failed += finished.filter((snapshot) => snapshot.run.state !== 'Complete').length;
      done += size;
      const entry = {
        batch: index,
        runsDone: done,
        wallMs,
        motoRssMb: rssMb(pid),
        load1: loadavg()[0] ?? Number.NaN,
      };
      batches.push(entry);
      say(
        `${String(index).padStart(5)} ${String(done).padStart(5)} ${(wallMs / 1000).toFixed(1).padStart(7)} ${(wallMs / size).toFixed(0).padStart(11)} ${entry.motoRssMb.toFixed(0).padStart(12)} ${entry.load1.toFixed(1).padStart(5)}`,
      );
    }
  } finally {
    await env.stop();
  }
  const measured = batches.at(-1)?.runsDone ?? 0;
  const window = Math.min(100, measured);
  const first = wallOf(batches, batchSize, 0, window);
  const last = wallOf(batches, batchSize, measured - window, measured);
  say(
    `first ${window} runs: ${(first / 1000).toFixed(1)} s; last ${window} runs: ${(last / 1000).toFixed(1)} s (ratio ${(last / first).toFixed(2)}); moto RSS ${batches[0]?.motoRssMb.toFixed(0)} MB after the first batch, ${batches.at(-1)?.motoRssMb.toFixed(0)} MB at the end; ${failed} run(s) not Complete`,
  );
  if (json !== undefined) {
    writeFileSync(
      json,
      `${JSON.stringify({ runs, batchSize, tracked, firstMs: first, lastMs: last, batches }, null, 2)}\n`,
    );
  }
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`long-session failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
