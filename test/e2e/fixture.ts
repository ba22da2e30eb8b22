/**
 * The end-to-end fixture: the Plugboard app (stage `local`) and the example plugins, synthesized with
 * their esbuild bundles (cached by a hash of the sources, shared by every e2e file and run) and
 * deployed on the test file's moto through the local cloud, as `npm start` does.
 */
import { afterAll, beforeAll } from 'vitest';
import type { RunSnapshot } from '../../lambdas/engine/records.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';

// The same stage as `npm start`, so both share the cached assemblies (a stage per moto is enough isolation).
export const E2E_STAGE = 'local';

/**
 * Starts a local cloud on `endpoint` with both apps deployed; quiet, prewarmed, the sweeper every 2 s:
 * the hanging courier answers 8 s after its 5 s deadline, and a loaded machine must still time it out
 * first (with a 6 s sweep the margin was about 2 s, and a busy machine missed it).
 */
export async function startE2eEnvironment(endpoint: string): Promise<DemoEnvironment> {
  const assemblies = synthDemo({ stage: E2E_STAGE });
  return DemoEnvironment.start(assemblies, {
    stage: E2E_STAGE,
    endpoint,
    handleSignals: false,
    scheduleSpeedUp: 30,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    // Every function's first environment loads while the apps deploy, so a cold start on a loaded
    // machine does not eat into an example plugin's 10 s deadline; and a slow load is not a failure.
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
  });
}

/** The plugin record `activity/stage/plugin` of a snapshot. */
export function pluginOf(
  snapshot: Awaited<ReturnType<DemoEnvironment['waitForRun']>>,
  path: string,
): (typeof snapshot.plugins)[number] | undefined {
  return snapshot.plugins.find((p) => `${p.activity}/${p.stage}/${p.plugin}` === path);
}

/**
 * Runs of `order`, one per uid with its metadata, started together in `beforeAll` on a fresh e2e
 * environment (the runs are independent) and read back when each has ended; the environment stops in
 * `afterAll`. Each test then checks one run.
 */
export function useE2eRuns(
  moto: { readonly endpoint: string },
  runs: Readonly<Record<string, Record<string, unknown>>>,
) {
  let env: DemoEnvironment | undefined;
  const snapshots = new Map<string, RunSnapshot>();
  beforeAll(async () => {
    const started = await startE2eEnvironment(moto.endpoint);
    env = started;
    await Promise.all(Object.entries(runs).map(([uid, metadata]) => started.startRun({ uid, metadata })));
    await Promise.all(
      Object.keys(runs).map(async (uid) =>
        snapshots.set(uid, await started.waitForRun(uid, { timeoutMs: 240_000 })),
      ),
    );
    // Synthesis with esbuild (no cache on a fresh machine), deploying both apps and the runs: minutes
    // on a loaded machine.
  }, 600_000);
  afterAll(async () => {
    await env?.stop();
  });
  const run = (uid: string): RunSnapshot => {
    const snapshot = snapshots.get(uid);
    if (snapshot === undefined) throw new Error(`run ${uid} was not read`);
    return snapshot;
  };
  return { run, stateOf: (uid: string, path: string) => pluginOf(run(uid), path)?.state };
}
