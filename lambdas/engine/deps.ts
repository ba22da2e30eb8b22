import type { Registration } from '../contracts/index.js';
import type { MessageAttribute } from './attributes.js';
import type { EngineConfig } from './config.js';
import type { Clock, CommandBus, Dispatcher, EventPublisher, Registry, StatusStore } from './ports.js';

/** Decides whether a plugin's registered filter policy lets a dispatch through to it. */
export type FilterMatcher = (
  registration: Registration,
  message: {
    readonly attributes: Record<string, MessageAttribute>;
    readonly body: string;
  },
) => boolean;

/** What the engine observes; the handlers turn these into logs and EMF metrics. */
export interface EngineObserver {
  runStarted?(info: { workflow: string; uid: string; rerun: boolean }): void;
  runEnded?(info: { workflow: string; uid: string; state: string; durationMs: number }): void;
  stageCompleted?(info: { workflow: string; activity: string; stage: string; durationMs: number }): void;
  /** Engine time from the last awaited report of a stage to the dispatch of the next one. */
  stageOverhead?(info: { workflow: string; activity: string; stage: string; overheadMs: number }): void;
  pluginFinished?(info: {
    workflow: string;
    activity: string;
    stage: string;
    plugin: string;
    state: string;
    durationMs?: number;
  }): void;
  pluginRetried?(info: {
    workflow: string;
    activity: string;
    stage: string;
    plugin: string;
    attempt: number;
    reason: string;
  }): void;
  lateReport?(info: {
    workflow: string;
    uid: string;
    activity: string;
    stage: string;
    plugin: string;
    reason: string;
  }): void;
  note?(message: string, detail: Record<string, unknown>): void;
}

export interface EngineDeps {
  readonly store: StatusStore;
  readonly registry: Registry;
  readonly dispatcher: Dispatcher;
  readonly commands: CommandBus;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly config: EngineConfig;
  readonly matchesFilter: FilterMatcher;
  readonly observer?: EngineObserver;
}
