/**
 * The end-to-end fixture: the Plugboard app (stage `local`) and the example plugins, synthesized with
 * their esbuild bundles (cached by a hash of the sources, shared by every e2e file and run) and
 * deployed on the test file's moto through the local cloud, as `npm start` does.
 */
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';

// The same stage as `npm start`, so both share the cached assemblies (a stage per moto is enough isolation).
export const E2E_STAGE = 'local';

/** Starts a local cloud on `endpoint` with both apps deployed; quiet, sweeper every 6 s. */
export async function startE2eEnvironment(endpoint: string): Promise<DemoEnvironment> {
  const assemblies = synthDemo({ stage: E2E_STAGE });
  return DemoEnvironment.start(assemblies, {
    stage: E2E_STAGE,
    endpoint,
    handleSignals: false,
    scheduleSpeedUp: 10,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
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
