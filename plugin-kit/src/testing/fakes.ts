/**
 * In-memory stand-ins for SQS `SendMessage` and the status table, injected through the wrappers'
 * options. They record what the plugin did so tests can assert on it.
 */
import {
  type PluginState,
  pluginSk,
  type Report,
  reportSchema,
  runPk,
  STATES,
  type StageName,
  TABLE_LAYOUT,
} from '../contracts/index.js';
import type { LogFields, LogLevel, PluginLogger } from '../runtime/logger.js';
import type { MessageSender, OutgoingMessage, StatusItemKey, StatusItemStore } from '../runtime/ports.js';

/**
 * Records every SQS message instead of sending it. `failWith` makes sends fail, e.g. to prove that a
 * report that cannot be sent is retried by the platform.
 *
 * @example
 * ```ts
 * const inbox = new InMemoryInbox({ fail: (message) => message.body.includes('"Complete"') });
 * ```
 */
export class InMemoryInbox implements MessageSender {
  /** Every accepted message, in order. */
  readonly messages: OutgoingMessage[] = [];
  private readonly fail: (message: OutgoingMessage) => boolean;

  constructor(options: { readonly fail?: (message: OutgoingMessage) => boolean } = {}) {
    this.fail = options.fail ?? (() => false);
  }

  async send(message: OutgoingMessage): Promise<void> {
    if (this.fail(message))
      throw new Error(`SendMessage to ${message.queueUrl} failed (injected by the test)`);
    this.messages.push(message);
  }

  /** The messages sent to `queueUrl`. */
  sentTo(queueUrl: string): OutgoingMessage[] {
    return this.messages.filter((message) => message.queueUrl === queueUrl);
  }

  /** The reports sent to `queueUrl`, parsed (a report that breaks the contract fails here). */
  reports(queueUrl: string): Report[] {
    return this.sentTo(queueUrl).map((message) => reportSchema.parse(JSON.parse(message.body)));
  }
}

/** A plugin execution record to put in the fake table. */
export interface PluginStatusFixture {
  readonly state: PluginState;
  /** @default the message's generation in `runPlugin`, else 1 */
  readonly generation?: number;
  /** @default the message's attempt in `runPlugin`, else 1 */
  readonly attempt?: number;
  readonly mandatory?: boolean;
  readonly message?: string;
  readonly result?: unknown;
}

export interface PluginStatusFixtureKey {
  readonly workflow: string;
  readonly uid: string;
  readonly activity: string;
  readonly stage: StageName;
  readonly plugin: string;
}

/**
 * The status table in memory. Reads are recorded (`reads`); `applyReport` updates a plugin's item the
 * way the orchestrator would, so a second delivery of the same message sees the first one's outcome.
 *
 * @example
 * ```ts
 * const table = new InMemoryStatusTable();
 * table.putPluginStatus({ workflow: 'orders', uid: 'o-1', activity: 'approve', stage: 'pre', plugin: 'enrich' },
 *   { state: 'Complete', generation: 1, attempt: 1, result: { segment: 'gold' } });
 * ```
 */
export class InMemoryStatusTable implements StatusItemStore {
  /** Every GetItem and Query, in order. */
  readonly reads: Array<{ readonly operation: 'GetItem' | 'Query'; readonly consistentRead: boolean }> = [];
  private readonly items = new Map<string, Record<string, unknown>>();
  private readonly failReads: boolean;

  constructor(options: { readonly failReads?: boolean } = {}) {
    this.failReads = options.failReads ?? false;
  }

  /** Puts a raw item (it must carry the key attributes). */
  put(item: Readonly<Record<string, unknown>> & StatusItemKey): void {
    this.items.set(itemId(item.pk, item.sk), { ...item });
  }

  /** Puts a plugin execution item, filled in the way the orchestrator stores it. */
  putPluginStatus(key: PluginStatusFixtureKey, status: PluginStatusFixture): void {
    this.put({
      pk: runPk(key.workflow, key.uid),
      sk: pluginSk(key.activity, key.stage, key.plugin),
      ...key,
      generation: status.generation ?? 1,
      attempt: status.attempt ?? 1,
      mandatory: status.mandatory ?? true,
      state: status.state,
      ...(status.message !== undefined ? { message: status.message } : {}),
      ...(status.result !== undefined ? { result: status.result } : {}),
      updatedAt: new Date(0).toISOString(),
    });
  }

  /** A plugin's item, if any. */
  pluginItem(key: PluginStatusFixtureKey): Record<string, unknown> | undefined {
    return this.items.get(
      itemId(runPk(key.workflow, key.uid), pluginSk(key.activity, key.stage, key.plugin)),
    );
  }

  /** Records a report the way the orchestrator would (state, attempt, result, message). */
  applyReport(report: Report): void {
    const key = { ...report, plugin: report.plugin };
    const current = this.pluginItem(key);
    const state: PluginState =
      report.status === 'Complete'
        ? STATES.complete
        : report.status === 'Error'
          ? STATES.error
          : STATES.inProgress;
    this.put({
      ...current,
      pk: runPk(report.workflow, report.uid),
      sk: pluginSk(report.activity, report.stage, report.plugin),
      workflow: report.workflow,
      uid: report.uid,
      activity: report.activity,
      stage: report.stage,
      plugin: report.plugin,
      generation: report.generation,
      attempt: report.attempt,
      state,
      ...(report.status === 'Complete' && report.result !== undefined ? { result: report.result } : {}),
      ...(report.message !== undefined ? { message: report.message } : {}),
      ...(report.status === 'Error' && report.code !== undefined ? { errorCode: report.code } : {}),
      updatedAt: report.reportedAt,
    });
  }

  async getItem(request: {
    readonly tableName: string;
    readonly key: StatusItemKey;
    readonly consistentRead: boolean;
  }): Promise<Record<string, unknown> | undefined> {
    this.reads.push({ operation: 'GetItem', consistentRead: request.consistentRead });
    if (this.failReads) throw new Error('GetItem failed (injected by the test)');
    const item = this.items.get(itemId(request.key.pk, request.key.sk));
    return item === undefined ? undefined : structuredClone(item);
  }

  async query(request: {
    readonly tableName: string;
    readonly pk: string;
    readonly skPrefix: string;
    readonly consistentRead: boolean;
  }): Promise<Record<string, unknown>[]> {
    this.reads.push({ operation: 'Query', consistentRead: request.consistentRead });
    if (this.failReads) throw new Error('Query failed (injected by the test)');
    return [...this.items.values()]
      .filter((item) => {
        const pk = item[TABLE_LAYOUT.partitionKey];
        const sk = item[TABLE_LAYOUT.sortKey];
        return pk === request.pk && typeof sk === 'string' && sk.startsWith(request.skPrefix);
      })
      .sort((a, b) => String(a[TABLE_LAYOUT.sortKey]).localeCompare(String(b[TABLE_LAYOUT.sortKey])))
      .map((item) => structuredClone(item));
  }
}

const itemId = (pk: string, sk: string): string => `${pk}\u0000${sk}`;

export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/**
 * A logger that keeps its lines in `entries` instead of writing them.
 *
 * @example
 * ```ts
 * const logger = recordingLogger();
 * logger.info('hello', { a: 1 });
 * logger.entries; // [{ level: 'info', message: 'hello', fields: { a: 1 } }]
 * ```
 */
export function recordingLogger(): PluginLogger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const log =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      entries.push({ level, message, fields: fields ?? {} });
    };
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
