/**
 * `npm start`: Plugboard end to end on this machine, in one command.
 *
 * 1. finds moto on PATH, or installs the pinned version into the project's Python environment
 *    (local/python-env.ts; fails fast saying how to get Python or the command to run by hand);
 * 2. synthesizes the Plugboard app (stage `local`) and the example plugins' app, with esbuild bundles
 *    (cached by a hash of the sources, see local/demo/synth-cache.ts);
 * 3. starts the local cloud (moto behind the AWS proxy, the Lambda runner) and deploys core, activities,
 *    metrics and the example plugins;
 * 4. starts the demo runs (local/demo/scenarios.ts), shows their progress live, then each run's status
 *    tree and a timeline, and writes the metrics report;
 * 5. exits 0 when every run ended as expected, 1 otherwise (saying what differed), and stops moto on
 *    exit, Ctrl-C and failure.
 *
 * Options (local/args.ts; `npm start -- --help`): `--keep` keeps the local cloud running after the demo (until Ctrl-C) and writes the CLI's
 * local state file, so `npx plugboard --local …` can talk to it; `--verbose` prints function logs;
 * `--full-batching-windows` keeps the event sources' batching windows as deployed (1 s per stage
 * inbox, as on AWS) instead of 5 times shorter; `--no-iam` turns IAM enforcement off (see
 * docs/local-cloud.md). `PLUGBOARD_STATS=1` prints AWS requests per operation;
 * `PLUGBOARD_TRACE=<file>` writes every AWS request and log entry with its time, to see where the time
 * goes.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { localStatePath, writeLocalState } from '../bin/cli/local-state.js';
import { consoleUrlExport } from '../lambdas/api/console-links.js';
import type { RunSnapshot } from '../lambdas/engine/records.js';
import { parseWorkflowConfig, runtimeConfigJson } from '../lib/config/workflow-config.js';
import projectConfig from '../plugboard.config.js';
import { startOptions } from './args.js';
import type { ProxiedRequest } from './aws-proxy.js';
import { startCloud } from './cloud.js';
import type { ControlServer } from './control.js';
import type { DemoEnvironment } from './demo/environment.js';
import { progressLines, statusTree, timeline } from './demo/render.js';
import { DEMO_SCENARIOS, scenarioProblems } from './demo/scenarios.js';
import { cachedDemo, ROOT } from './demo/synth-cache.js';
import { DemoTrace } from './demo/trace.js';
import { ensurePythonTools, PythonToolsError } from './python-env.js';

const STAGE = 'local';
const RUN_TIMEOUT_MS = 120_000;
// `--help` and unknown options end here, before anything starts.
const { keep, verbose, fullWindows, iam: iamOption } = startOptions();
/** IAM is enforced unless `--no-iam` (or `PLUGBOARD_IAM=off`); the local cloud warns when it is off. */
const iam = iamOption ? undefined : false;
/** How much shorter npm start makes the batching windows of the event sources (1 s → 200 ms). */
const WINDOW_SPEED_UP = 5;
const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const step = (line: string) =>
  say(`${tty ? '\u001b[1m' : ''}[${elapsed().padStart(6)}] ${line}${tty ? '\u001b[0m' : ''}`);

const stats = new Map<string, { count: number; ms: number }>();
const trace =
  process.env.PLUGBOARD_TRACE !== undefined && process.env.PLUGBOARD_TRACE !== ''
    ? new DemoTrace(process.env.PLUGBOARD_TRACE, t0)
    : undefined;

function record(request: ProxiedRequest): void {
  trace?.request(request);
  if (process.env.PLUGBOARD_STATS !== '1') return;
  const key = `${request.service}:${request.operation}`;
  const entry = stats.get(key) ?? { count: 0, ms: 0 };
  entry.count += 1;
  entry.ms += request.durationMs;
  stats.set(key, entry);
}

/**
 * Runs whose status items were written since they were last read: a DynamoDB write names its run in
 * its keys (`…#order-gift`), so the progress loop reads only those again instead of every run every
 * half second (each read is a Query that holds moto up, and the engine's writes wait for it).
 */
const written = new Set<string>();
const WRITE_OPERATIONS = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'TransactWriteItems',
  'BatchWriteItem',
]);
function noteWrite(request: ProxiedRequest): void {
  if (request.service !== 'dynamodb' || !WRITE_OPERATIONS.has(request.operation)) return;
  for (const scenario of DEMO_SCENARIOS) {
    if (request.requestBody.includes(scenario.uid)) written.add(scenario.uid);
  }
}
/** A run nobody wrote to is still read this often, in case a write named it in a way noteWrite missed. */
const REREAD_MS = 3000;

let environment: DemoEnvironment | undefined;
let stopping = false;

let statePathWritten: string | undefined;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // A stale state file would point the CLI at a cloud that is gone.
    if (statePathWritten) await rm(statePathWritten, { force: true }).catch(() => undefined);
    await environment?.stop().catch(() => undefined);
    trace?.line({ kind: 'stopped', uptimeSeconds: process.uptime() });
    await trace?.close();
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

  // moto from PATH, or from the project's Python environment (created and installed into on first use).
  try {
    process.env.PATH = (await ensurePythonTools({ tools: ['moto_server'], root: ROOT })).path;
  } catch (error) {
    if (!(error instanceof PythonToolsError)) throw error;
    say(`npm start needs moto (Python) to emulate AWS. ${error.message}`);
    return 2;
  }

  // moto takes most of a second to start: it starts while the local cloud's modules (the AWS SDK
  // clients, the engine's adapters) load, which takes about as long.
  const motoStarting = startCloud({ handleSignals: true });
  motoStarting.catch(() => undefined); // awaited below; a failure is reported there
  const [{ DEMO_WORKFLOW, DemoEnvironment }, { writeMetricsReport }] = await Promise.all([
    import('./demo/environment.js'),
    import('../metrics/report.js'),
  ]);

  step('synthesizing the Plugboard app (stage local) and the example plugins…');
  // The CDK and the app's constructs take seconds to import: only when the cache cannot serve.
  const assemblies =
    cachedDemo({ stage: STAGE }) ?? (await import('./demo/synth.js')).synthDemo({ stage: STAGE });
  step(
    `synthesized ${assemblies.cached ? '(from the cache, sources unchanged)' : '(bundled with esbuild, now cached)'}: ${assemblies.app}`,
  );

  const outDirectory = join(ROOT, 'out', 'local');
  mkdirSync(outDirectory, { recursive: true });
  const logPath = join(outDirectory, 'function-logs.jsonl');
  const logs = createWriteStream(logPath);
  if (iam === false || process.env.PLUGBOARD_IAM === 'off')
    step('IAM is NOT enforced: every caller may do anything');
  environment = await DemoEnvironment.start(
    assemblies,
    {
      stage: STAGE,
      cloud: await motoStarting,
      // npm start compresses time where waiting shows nothing (docs/local-cloud.md, "npm start"):
      // - schedules run 60 times faster: the sweeper (and the liveness function) every second, so the
      //   hanging plugin is timed out about a second after its 5 s deadline instead of up to 6 s;
      // - batching windows are 5 times shorter (the stage inboxes gather for 200 ms instead of 1 s: a
      //   run passes a dozen of them), unless `--full-batching-windows`;
      // - failed asynchronous invocations are retried at once.
      scheduleSpeedUp: 60,
      batchingWindowSpeedUp: fullWindows ? 1 : WINDOW_SPEED_UP,
      asyncRetryDelaysSeconds: [0],
      // Every function's first execution environment loads while the rest deploys (a 1 MB bundle takes
      // a few hundred ms of CPU); a second one, when two invocations overlap, starts on demand.
      prewarm: 1,
      defaultConcurrency: 2,
      // One poller per queue, long-polling 20 s as Lambda's do: a 2-core machine spends its CPU on
      // the functions rather than on receives that come back empty.
      pollersPerEventSource: 1,
      pollWaitSeconds: 20,
      forwardMetrics: true,
      ...(iam !== undefined ? { iam } : {}),
      onRequest: (request: ProxiedRequest) => {
        noteWrite(request);
        record(request);
      },
      onLog: (entry) => {
        trace?.line({ ...entry });
        logs.write(`${JSON.stringify(entry)}\n`);
        if (verbose && entry.kind === 'function') say(`  ${JSON.stringify(entry)}`);
      },
    },
    (phase, ms) => step(`${phase} (${(ms / 1000).toFixed(1)} s)`),
  );
  const env = environment;
  const apiStack = env.local.deployer.stack(`plugboard-${STAGE}-api`);
  const { LocalApiGateway } = await import('./api-gateway.js');
  const api = apiStack ? await LocalApiGateway.start({ stack: apiStack, local: env.local }) : undefined;
  if (api)
    step(`HTTP API: ${api.url} (SigV4, service execute-api; the dummy credentials may call every route)`);
  // The web console (console/, local/console-server.ts): no sign-in, it acts as the local administrator.
  const consoleServer = api ? await startConsole(api, env) : undefined;
  if (consoleServer) step(`console: ${consoleServer.url}/ (no sign-in; acts as the local administrator)`);

  const from = new Date(Date.now() - 60_000);
  trace?.cpu('runs start', env.local.cloud.pid);
  step(
    `starting ${DEMO_SCENARIOS.length} runs of the ${DEMO_WORKFLOW} workflow (time compressed: schedules 60×${fullWindows ? '' : `, configured batching windows ${WINDOW_SPEED_UP}× shorter (none by default)`}):`,
  );
  for (const scenario of DEMO_SCENARIOS) say(`  ${scenario.uid}: ${scenario.title} → expect ${scenario.run}`);
  await Promise.all(DEMO_SCENARIOS.map((s) => env.startRun({ uid: s.uid, metadata: s.metadata })));

  // Live progress until every run has finished (or the time is up).
  const snapshots = new Map<string, RunSnapshot | undefined>();
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let drawn = 0;
  let lastPlain = '';
  const readAt = new Map<string, number>();
  for (;;) {
    // Read only the runs still going that were written to (each read is a DynamoDB Query that
    // competes with the engine's requests).
    for (const scenario of DEMO_SCENARIOS) {
      const previous = snapshots.get(scenario.uid);
      const stale = Date.now() - (readAt.get(scenario.uid) ?? 0) >= REREAD_MS;
      if (
        previous === undefined ||
        (previous.run.state === 'In Progress' && (written.has(scenario.uid) || stale))
      ) {
        written.delete(scenario.uid);
        readAt.set(scenario.uid, Date.now());
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

  trace?.cpu('runs end', env.local.cloud.pid);
  for (const snapshot of snapshots.values()) if (snapshot) trace?.line({ kind: 'snapshot', snapshot });
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
    await env.local.runner.flushMetrics();
    await writeMetricsReport(reportPath, {
      cloudwatch: env.cloudwatch,
      deploymentStage: STAGE,
      workflows: [DEMO_WORKFLOW],
      runs: env.store,
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
    // The control endpoint (local/control.ts): `plugboard --local deploy|destroy|credentials`.
    let control: ControlServer | undefined;
    const writeState = async () => {
      await writeLocalState(statePath, {
        endpoint: env.local.endpoint,
        lambdaEndpoint: env.local.lambdaEndpoint,
        ...(api ? { apiUrl: api.url } : {}),
        ...(consoleServer ? { consoleUrl: consoleServer.url } : {}),
        region: env.local.clientConfig().region,
        // The console server stands in for the console stack: its URL is that stack's export, so
        // `plugboard --local status` links runs to it as on AWS.
        exports: {
          ...env.local.exports(),
          ...(consoleServer
            ? { [consoleUrlExport({ systemName: 'plugboard', stage: STAGE })]: consoleServer.url }
            : {}),
        },
        // The workflows the CLI checks names against, also from outside this checkout.
        config: JSON.parse(runtimeConfigJson(parseWorkflowConfig(projectConfig).config)),
        pid: process.pid,
        ...(control !== undefined ? { control: control.state } : {}),
      });
    };
    const { ControlServer: Server } = await import('./control.js');
    control = await Server.start({ cloud: env.local, onChange: writeState, log: step });
    await writeState();
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

/** Builds the console bundle (esbuild, a fraction of a second) and serves it in front of the API. */
async function startConsole(
  api: import('./api-gateway.js').LocalApiGateway,
  env: DemoEnvironment,
): Promise<import('./console-server.js').ConsoleServer> {
  const [{ buildConsole }, { ConsoleServer }] = await Promise.all([
    import('../console/build.js'),
    import('./console-server.js'),
  ]);
  await buildConsole();
  return ConsoleServer.start({ gateway: api, local: env.local });
}

main().then(
  (code) => shutdown(code),
  (error: unknown) => {
    say(`\nnpm start failed after ${elapsed()}: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.cause !== undefined) say(`  cause: ${String(error.cause)}`);
    return shutdown(1);
  },
);
