/** The reference workflow of the engine integration tests, and what "completed exactly once" means. */
import { expect } from 'vitest';
import type { PluginInfoInput, StageName } from '../../lambdas/contracts/index.js';
import { type FakePlugin, Orchestra, type OrchestraOptions } from './orchestra.js';

export const WORKFLOW = 'order';
export const ACTIVITIES = ['intake', 'fulfilment', 'notify'];

export const info = (name: string, extra: Partial<PluginInfoInput> = {}): PluginInfoInput => ({
  name,
  default: { mandatory: true },
  ...extra,
});

/** The reference workflow: 3 activities × (1 pre + 5 parallel + 1 post) plugins that complete. */
export function referencePlugins(overrides: Partial<Record<string, Partial<FakePlugin>>> = {}): FakePlugin[] {
  const plugins: FakePlugin[] = [];
  for (const activity of ACTIVITIES) {
    const add = (stage: StageName, name: string) =>
      plugins.push({
        activity,
        stage,
        info: info(name),
        behave: () => ({ status: 'Complete', result: { by: name } }),
        ...overrides[name],
      });
    add('pre', `${activity}-pre`);
    for (let i = 1; i <= 5; i += 1) add('parallel', `${activity}-par-${i}`);
    add('post', `${activity}-post`);
  }
  return plugins;
}

export async function referenceOrchestra(
  endpoint: string,
  plugins: FakePlugin[],
  extra: Partial<OrchestraOptions> = {},
): Promise<Orchestra> {
  return Orchestra.create({ endpoint, workflows: { [WORKFLOW]: ACTIVITIES }, plugins, ...extra });
}

export function expectCompletedOnce(snapshot: Awaited<ReturnType<Orchestra['runUntilSettled']>>) {
  expect(snapshot.run.state).toBe('Complete');
  expect(snapshot.stages).toHaveLength(9);
  for (const stage of snapshot.stages) {
    expect(stage.state).toBe('Complete');
    expect(stage.mandatoryPending).toBe(0);
    expect(stage.optionalPending).toBe(0);
  }
  expect(snapshot.plugins).toHaveLength(21);
  for (const plugin of snapshot.plugins) {
    expect(plugin.state).toBe('Complete');
    expect(plugin.attempt).toBe(1);
  }
}
