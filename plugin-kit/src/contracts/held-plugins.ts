/**
 * Part of the plugin API (read-only): how a stage item holds its plugins' records (ADR 0007).
 *
 * A narrow stage (at most 16 plugins) keeps its plugin executions inside its own item, under
 * `plugins`: a map from plugin name to a compact entry. Writing one item per batch of reports is what
 * keeps the hot path at one write unit per report, and the entry is compact because DynamoDB bills a
 * write by the size of the whole item. Wide stages keep one `PLUGIN#…` item per plugin
 * (status-item.ts). A reader looks at the stage item first.
 *
 * | entry field | meaning                                     | type                      |
 * |-------------|---------------------------------------------|---------------------------|
 * | `s`         | state, as a one-letter code (below)         | string                    |
 * | `a`         | current attempt (0 before the first)        | number                    |
 * | `m`         | mandatory in this activity                  | boolean                   |
 * | `o`         | order                                       | number                    |
 * | `x`         | most attempts                               | number                    |
 * | `d`         | deadline of an attempt, seconds             | number                    |
 * | `dl`        | deadline of the current attempt, epoch ms   | number, optional          |
 * | `t`         | time of each state entered, epoch ms        | map code → number         |
 * | `msg`       | message                                     | string, optional          |
 * | `ec`        | `PluginError.code` of a final failure       | string, optional          |
 * | `r`         | result of `Complete`                        | any, optional             |
 * | `late`      | reports that came too late                  | number, optional          |
 * | `tos`       | when a timeout was last sent, epoch ms      | number, optional          |
 * | `h`         | earlier attempts that failed or timed out   | list, optional (below)    |
 *
 * An earlier attempt in `h`: `a` attempt, `s` outcome (state code), `t0` dispatched and `t1` ended
 * (epoch ms; `t0` optional), `msg` and `ec` as above (optional). Oldest first.
 *
 * The entry's generation is the stage item's `generation`.
 */
import { PLUGIN_STATES, type PluginState, STATES } from './states.js';

/** The attribute of a stage item that holds its plugins. */
export const HELD_PLUGINS_ATTRIBUTE = 'plugins';

/** One-letter codes of the plugin states inside a stage item. */
export const HELD_STATE_CODES: Readonly<Record<PluginState, string>> = {
  [STATES.notStarted]: 'N',
  [STATES.inProgress]: 'P',
  [STATES.complete]: 'C',
  [STATES.error]: 'E',
  [STATES.timedOut]: 'T',
  [STATES.doNotRun]: 'D',
  [STATES.cancelled]: 'X',
};

const STATE_OF_CODE = new Map<string, PluginState>(
  PLUGIN_STATES.map((state) => [HELD_STATE_CODES[state], state] as const),
);

/** A plugin execution as a stage item holds it. */
export interface HeldPluginEntry {
  readonly s: string;
  readonly a: number;
  readonly m: boolean;
  readonly o: number;
  readonly x: number;
  readonly d: number;
  readonly dl?: number;
  readonly t: Readonly<Record<string, number>>;
  readonly msg?: string;
  readonly ec?: string;
  readonly r?: unknown;
  readonly late?: number;
  readonly tos?: number;
  readonly h?: readonly HeldAttemptEntry[];
}

/** An earlier attempt inside a held entry. */
export interface HeldAttemptEntry {
  readonly a: number;
  readonly s: string;
  readonly t0?: number;
  readonly t1: number;
  readonly msg?: string;
  readonly ec?: string;
}

/** An earlier attempt of a plugin that failed or timed out (its history), in the long form. */
export interface AttemptHistoryEntry {
  readonly attempt: number;
  readonly outcome: PluginState;
  readonly startedAt?: string;
  readonly endedAt: string;
  readonly message?: string;
  readonly errorCode?: string;
}

/** A held plugin execution in the long form the rest of the API uses (ISO times, state names). */
export interface HeldPluginFields {
  readonly state: PluginState;
  readonly attempt: number;
  readonly mandatory: boolean;
  readonly order: number;
  readonly maxAttempts: number;
  readonly deadlineSeconds: number;
  readonly deadline?: string;
  readonly stateTimes: Partial<Record<PluginState, string>>;
  readonly message?: string;
  readonly errorCode?: string;
  readonly result?: unknown;
  readonly lateReports?: number;
  readonly timeoutSentAt?: string;
  readonly history?: readonly AttemptHistoryEntry[];
  /** The latest state time (entries keep no separate update time). */
  readonly updatedAt: string;
}

const millis = (iso: string): number => {
  const value = Date.parse(iso);
  if (Number.isNaN(value)) throw new TypeError(`not an ISO-8601 time: ${JSON.stringify(iso)}`);
  return value;
};
const iso = (ms: number): string => new Date(ms).toISOString();

/** The compact entry of a plugin execution. */
export function encodeHeldPlugin(fields: Omit<HeldPluginFields, 'updatedAt'>): HeldPluginEntry {
  const times: Record<string, number> = {};
  for (const [state, at] of Object.entries(fields.stateTimes)) {
    if (at !== undefined) times[HELD_STATE_CODES[state as PluginState]] = millis(at);
  }
  return {
    s: HELD_STATE_CODES[fields.state],
    a: fields.attempt,
    m: fields.mandatory,
    o: fields.order,
    x: fields.maxAttempts,
    d: fields.deadlineSeconds,
    ...(fields.deadline !== undefined ? { dl: millis(fields.deadline) } : {}),
    t: times,
    ...(fields.message !== undefined ? { msg: fields.message } : {}),
    ...(fields.errorCode !== undefined ? { ec: fields.errorCode } : {}),
    ...(fields.result !== undefined ? { r: fields.result } : {}),
    ...(fields.lateReports !== undefined ? { late: fields.lateReports } : {}),
    ...(fields.timeoutSentAt !== undefined ? { tos: millis(fields.timeoutSentAt) } : {}),
    ...(fields.history !== undefined && fields.history.length > 0
      ? {
          h: fields.history.map((h) => ({
            a: h.attempt,
            s: HELD_STATE_CODES[h.outcome],
            ...(h.startedAt !== undefined ? { t0: millis(h.startedAt) } : {}),
            t1: millis(h.endedAt),
            ...(h.message !== undefined ? { msg: h.message } : {}),
            ...(h.errorCode !== undefined ? { ec: h.errorCode } : {}),
          })),
        }
      : {}),
  };
}

function decodeHistory(value: unknown): AttemptHistoryEntry[] | string {
  if (!Array.isArray(value)) return '"h" must be a list';
  const history: AttemptHistoryEntry[] = [];
  for (const [index, entry] of value.entries()) {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const outcome = typeof e.s === 'string' ? STATE_OF_CODE.get(e.s) : undefined;
    if (
      !Number.isInteger(e.a) ||
      !outcome ||
      typeof e.t1 !== 'number' ||
      (e.t0 !== undefined && typeof e.t0 !== 'number')
    )
      return `"h[${index}]" must hold an attempt "a", an outcome code "s" and an end time "t1"`;
    history.push({
      attempt: e.a as number,
      outcome,
      ...(typeof e.t0 === 'number' ? { startedAt: iso(e.t0) } : {}),
      endedAt: iso(e.t1),
      ...(typeof e.msg === 'string' ? { message: e.msg } : {}),
      ...(typeof e.ec === 'string' ? { errorCode: e.ec } : {}),
    });
  }
  return history;
}

/**
 * The long form of a held entry, or a sentence saying what is wrong with it. `fallbackTime` (the stage
 * item's `createdAt`) is the update time of an entry with no state time.
 */
export function decodeHeldPlugin(entry: unknown, fallbackTime: string): HeldPluginFields | string {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'the entry is not a map';
  const e = entry as Record<string, unknown>;
  const state = typeof e.s === 'string' ? STATE_OF_CODE.get(e.s) : undefined;
  if (!state)
    return `"s" must be one of ${[...STATE_OF_CODE.keys()].join(', ')}, but is ${JSON.stringify(e.s)}`;
  for (const field of ['a', 'o', 'x', 'd'] as const) {
    if (!Number.isInteger(e[field]))
      return `"${field}" must be an integer, but is ${JSON.stringify(e[field])}`;
  }
  if (typeof e.m !== 'boolean') return `"m" must be a boolean, but is ${JSON.stringify(e.m)}`;
  const times = e.t;
  if (typeof times !== 'object' || times === null || Array.isArray(times)) return '"t" must be a map';
  const stateTimes: Partial<Record<PluginState, string>> = {};
  let latest: number | undefined;
  for (const [code, at] of Object.entries(times as Record<string, unknown>)) {
    const named = STATE_OF_CODE.get(code);
    if (!named || typeof at !== 'number') return `"t.${code}" must be a state code with a time in ms`;
    stateTimes[named] = iso(at);
    latest = latest === undefined ? at : Math.max(latest, at);
  }
  const optionalNumber = (field: string): number | undefined =>
    typeof e[field] === 'number' ? (e[field] as number) : undefined;
  const deadline = optionalNumber('dl');
  const late = optionalNumber('late');
  const timeoutSent = optionalNumber('tos');
  const history = e.h === undefined ? undefined : decodeHistory(e.h);
  if (typeof history === 'string') return history;
  return {
    state,
    attempt: e.a as number,
    mandatory: e.m,
    order: e.o as number,
    maxAttempts: e.x as number,
    deadlineSeconds: e.d as number,
    ...(deadline !== undefined ? { deadline: iso(deadline) } : {}),
    stateTimes,
    ...(typeof e.msg === 'string' ? { message: e.msg } : {}),
    ...(typeof e.ec === 'string' ? { errorCode: e.ec } : {}),
    ...(e.r !== undefined ? { result: e.r } : {}),
    ...(late !== undefined ? { lateReports: late } : {}),
    ...(timeoutSent !== undefined ? { timeoutSentAt: iso(timeoutSent) } : {}),
    ...(history !== undefined ? { history } : {}),
    updatedAt: latest === undefined ? fallbackTime : iso(latest),
  };
}
