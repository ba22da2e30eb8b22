/**
 * `npm start`: Plugboard end to end on this machine, in one command.
 *
 * 1. checks that moto is installed (fails fast with the install command);
 * 2. synthesizes the Plugboard app (stage `local`) and the example plugins' app, with esbuild bundles
 *    (cached by a hash of the sources, see local/demo/synth.ts);
 * 3. starts the local cloud (moto behind the AWS proxy, the Lambda runner) and deploys core, activities,
 *    metrics and the example plugins;
 * 4. starts the demo runs (local/demo/scenarios.ts), shows their progress live, then each run's status
 *    tree and a timeline, and writes the metrics report;
 * 5. exits 0 when every run ended as expected, 1 otherwise (saying what differed), and stops moto on
 *    exit, Ctrl-C and failure.
 *
 * Options: `--keep` keeps the local cloud running after the demo (until Ctrl-C) and writes the CLI's
 * local state file, so `npx plugboard --local …` can talk to it; `--verbose` prints function logs.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { localStatePath, writeLocalState } from '../bin/cli/local-state.js';
import type { RunSnapshot } from '../lambdas/engine/records.js';
import { writeMetricsReport } from '../metrics/report.js';
import type { ProxiedRequest } from './aws-proxy.js';
import { MOTO_INSTALL_COMMAND } from './cloud.js';
import { DEMO_WORKFLOW, DemoEnvironment } from './demo/environment.js';
import { progressLines, statusTree, timeline } from './demo/render.js';
import { DEMO_SCENARIOS, scenarioProblems } from './demo/scenarios.js';
import { ROOT, synthDemo } from './demo/synth.js';

const STAGE = 'local';
const RUN_TIMEOUT_MS = 120_000;
const args = new Set(process.argv.slice(2));
const keep = args.has('--keep');
const verbose = args.has('--verbose');
const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const step = (line: string) =>
  say(`${tty ? '\u001b[1m' : ''}[${elapsed().padStart(6)}] ${line}${tty ? '\u001b[0m' : ''}`);

/** Whether `command` is an executable on PATH. */
async function onPath(command: string): Promise<boolean> {
  const { access, constants } = await import('node:fs/promises');
  for (const directory of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    try {
      await access(join(directory, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

const stats = new Map<string, { count: number; ms: number }>();
function record(request: ProxiedRequest): void {
  const key = `${request.service}:${request.operation}`;
  const entry = stats.get(key) ?? { count: 0, ms: 0 };
  entry.count += 1;
  entry.ms += request.durationMs;
  stats.set(key, entry);
}

let environment: DemoEnvironment | undefined;
let stopping = false;

let statePathWritten: string | undefined;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // A stale state file would point the CLI at a cloud that is gone.
    if (statePathWritten) await rm(statePathWritten, { force: true }).catch(() => undefined);
    await environment?.stop().catch(() => undefined);
  }
  process.exit(code);
}

async function main(): Promise<number> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      say(`\n${signal}: stopping the local cloud…`);
      void shutdown(130);
    });
  }

  if (!(await onPath('moto_server'))) {
    say(
      `moto_server was not found on PATH: npm start needs moto (Python) to emulate AWS.\nInstall it with: ${MOTO_INSTALL_COMMAND}`,
    );
    return 2;
  }

  step('synthesizing the Plugboard app (stage local) and the example plugins…');
  const assemblies = synthDemo({ stage: STAGE });
  step(
    `synthesized ${assemblies.cached ? '(from the cache, sources unchanged)' : '(bundled with esbuild, now cached)'}: ${assemblies.app}`,
  );

  const outDirectory = join(ROOT, 'out', 'local');
  mkdirSync(outDirectory, { recursive: true });
  const logPath = join(outDirectory, 'function-logs.jsonl');
  const logs = createWriteStream(logPath);
  environment = await DemoEnvironment.start(
    assemblies,
    {
      stage: STAGE,
      handleSignals: true,
      // The sweeper (and the liveness function) run every 6 s instead of every minute: a missed deadline
      // is noticed in seconds, without the schedules eating the CPU the plugins need.
      scheduleSpeedUp: 10,
      asyncRetryDelaysSeconds: [0],
      // Two execution environments per function and one poller per queue: fewer cold starts and
      // less long polling, which is what a 2-core machine can run.
      defaultConcurrency: 2,
      pollersPerEventSource: 1,
      forwardMetrics: true,
      ...(process.env.PLUGBOARD_STATS === '1' ? { onRequest: (r: ProxiedRequest) => record(r) } : {}),
      onLog: (entry) => {
        logs.write(`${JSON.stringify(entry)}\n`);
        if (verbose && entry.kind === 'function') say(`  ${JSON.stringify(entry)}`);
      },
    },
    (phase, ms) => step(`${phase} (${(ms / 1000).toFixed(1)} s)`),
  );
  const env = environment;

  const from = new Date(Date.now() - 60_000);
  step(`starting ${DEMO_SCENARIOS.length} runs of the ${DEMO_WORKFLOW} workflow:`);
  for (const scenario of DEMO_SCENARIOS) say(`  ${scenario.uid}: ${scenario.title} → expect ${scenario.run}`);
  await Promise.all(DEMO_SCENARIOS.map((s) => env.startRun({ uid: s.uid, metadata: s.metadata })));

  // Live progress until every run has finished (or the time is up).
  const snapshots = new Map<string, RunSnapshot | undefined>();
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let drawn = 0;
  let lastPlain = '';
  for (;;) {
    // Read only the runs still going (each read is a DynamoDB Query that competes with the engine's).
    for (const scenario of DEMO_SCENARIOS) {
      const previous = snapshots.get(scenario.uid);
      if (previous === undefined || previous.run.state === 'In Progress') {
        snapshots.set(scenario.uid, await env.readRun(scenario.uid));
      }
    }
    const now = new Date();
    const lines = DEMO_SCENARIOS.flatMap((s) => progressLines(s.uid, snapshots.get(s.uid), now, tty));
    if (tty) {
      if (drawn > 0) process.stdout.write(`\u001b[${drawn}A`);
      for (const line of lines) process.stdout.write(`\u001b[2K${line}\n`);
      drawn = lines.length;
    } else {
      const text = lines.filter((l) => !l.startsWith(' ')).join(' | ');
      if (text !== lastPlain) say(`[${elapsed().padStart(6)}] ${text}`);
      lastPlain = text;
    }
    const finished = [...snapshots.values()].every((s) => s !== undefined && s.run.state !== 'In Progress');
    if (finished || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  step('final status of each run:');
  for (const scenario of DEMO_SCENARIOS) {
    const snapshot = snapshots.get(scenario.uid);
    if (snapshot) for (const line of statusTree(snapshot, tty)) say(`  ${line}`);
  }
  const finishedSnapshots = [...snapshots.values()].filter((s): s is RunSnapshot => s !== undefined);
  step('timeline (plugin attempts):');
  for (const line of timeline(finishedSnapshots, tty)) say(`  ${line}`);

  const reportPath = join(outDirectory, 'metrics-report.html');
  try {
    await writeMetricsReport(reportPath, {
      cloudwatch: env.cloudwatch,
      deploymentStage: STAGE,
      workflows: [DEMO_WORKFLOW],
      from,
      to: new Date(Date.now() + 60_000),
    });
    step(`metrics report: ${reportPath}`);
  } catch (error) {
    step(
      `the metrics report could not be written: ${error instanceof Error ? error.message : String(error)}`,
    );
  }

  const failures = DEMO_SCENARIOS.flatMap((s) =>
    scenarioProblems(s, snapshots.get(s.uid)).map((problem) => `${s.uid}: ${problem}`),
  );
  say('');
  if (failures.length > 0) {
    say(`✗ ${failures.length} expectation(s) not met:`);
    for (const failure of failures) say(`  - ${failure}`);
    say(
      `Inspect: function logs in ${logPath} (one JSON line per log line), or rerun with \`npm start -- --verbose\`;`,
    );
    say('keep the cloud up with `npm start -- --keep` and use `npx plugboard --local status order <uid>`.');
  } else {
    say(
      `✓ every run ended as expected (${DEMO_SCENARIOS.length} runs) in ${elapsed()}. Function logs: ${logPath}`,
    );
  }

  if (keep) {
    const statePath = localStatePath();
    await writeLocalState(statePath, {
      endpoint: env.local.endpoint,
      lambdaEndpoint: env.local.lambdaEndpoint,
      region: env.local.clientConfig().region,
      exports: env.local.exports(),
      pid: process.pid,
    });
    statePathWritten = statePath;
    say(
      `The local cloud keeps running (state in ${statePath}); try \`npx plugboard --local status order order-gift\`.`,
    );
    say('Press Ctrl-C to stop it.');
    await new Promise<never>(() => {});
  }
  logs.end();
  if (stats.size > 0) {
    for (const [key, { count, ms }] of [...stats].sort((a, b) => b[1].ms - a[1].ms)) {
      say(
        `  ${key.padEnd(40)} ${String(count).padStart(6)} requests ${(ms / count).toFixed(1).padStart(7)} ms average`,
      );
    }
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => shutdown(code),
  (error: unknown) => {
    say(`\nnpm start failed after ${elapsed()}: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.cause !== undefined) say(`  cause: ${String(error.cause)}`);
    return shutdown(1);
  },
);
