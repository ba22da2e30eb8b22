/**
 * Retries: the next attempt of plugins whose previous attempt failed or timed out.
 */
import { STATES } from '../contracts/index.js';
import type { EngineDeps } from './deps.js';
import { type Delivery, publish } from './progress.js';
import type { PluginRecord } from './records.js';
import { OPEN_STAGE, pluginKeyOf, type RetryCommand, stageKeyOf } from './stage-common.js';

/**
 * Dispatches the next attempt of plugins whose previous attempt failed. Safe to repeat: the attempt is
 * published by the command that moved it, and again only when that command comes back as a
 * redelivery (a crash may have lost the publish) — never by a duplicate command.
 */
export async function retryPlugins(
  deps: EngineDeps,
  commands: readonly RetryCommand[],
  delivery: Delivery = { redelivered: true },
): Promise<void> {
  const first = commands[0];
  if (!first) return;
  const key = stageKeyOf(first);
  const [run, view] = await Promise.all([deps.store.getRun(key), deps.store.readStage(key)]);
  const stage = view?.stage;
  if (!run || !stage || run.state !== STATES.inProgress) return;
  if (!(OPEN_STAGE as readonly string[]).includes(stage.state)) return;
  const byAttempt = new Map<number, PluginRecord[]>();
  for (const command of commands) {
    if (command.generation !== stage.generation || run.generation !== stage.generation) continue;
    for (const name of command.plugins) {
      const plugin = view.plugins
        ? view.plugins.find((p) => p.plugin === name)
        : await deps.store.getPlugin({ ...pluginKeyOf(key, name), inStage: false });
      if (!plugin || plugin.generation !== stage.generation) continue;
      const nextAttempt = command.attempt + 1;
      const deadline = new Date(deps.clock.now().getTime() + plugin.deadlineSeconds * 1000).toISOString();
      const moved = await deps.store.transitionPlugin(
        plugin,
        [STATES.notStarted],
        { state: STATES.inProgress, attempt: nextAttempt, deadline, message: null },
        { generation: stage.generation, attempt: command.attempt },
      );
      const record = moved.applied ? moved.record : moved.current;
      if (!moved.applied && !delivery.redelivered) continue;
      if (record?.state === STATES.inProgress && record.attempt === nextAttempt) {
        const list = byAttempt.get(nextAttempt) ?? [];
        if (!list.some((p) => p.plugin === record.plugin)) list.push(record);
        byAttempt.set(nextAttempt, list);
      }
    }
  }
  for (const [attempt, targets] of byAttempt) {
    await publish(deps, run, stage, targets, attempt);
  }
}
