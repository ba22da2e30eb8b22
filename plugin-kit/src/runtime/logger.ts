/**
 * A minimal structured logger: one JSON line per event. Plugins may pass their own logger (Powertools'
 * `Logger` fits this interface) through the wrappers' options.
 */

export type LogFields = Readonly<Record<string, unknown>>;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What the kit logs through. Every method takes a message and optional structured fields. */
export interface PluginLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** The keys that identify one plugin execution in logs (a type alias, so it is usable as LogFields). */
export type PluginLogKeys = {
  readonly workflow: string;
  readonly uid: string;
  readonly generation: number;
  readonly activity: string;
  readonly stage: string;
  readonly plugin: string;
  readonly attempt: number;
};

export interface JsonLoggerOptions {
  /** Added to every line as `service`. */
  readonly service?: string;
  /** Lowest level written. @default 'info' */
  readonly level?: LogLevel;
  /** Where lines go. @default one line on standard output */
  readonly write?: (line: string) => void;
}

const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A logger that writes one JSON object per line: `level`, `message`, `timestamp`, `service` and the
 * fields (errors become `{ name, message, stack }`).
 *
 * @example
 * ```ts
 * const logger = jsonLogger({ service: 'enrich-order', level: 'debug' });
 * logger.info('looked up the customer', { customerId: 'c-1' });
 * ```
 */
export function jsonLogger(options: JsonLoggerOptions = {}): PluginLogger {
  const threshold = LEVELS[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      if (LEVELS[level] < threshold) return;
      const entry: Record<string, unknown> = {
        level: level.toUpperCase(),
        message,
        timestamp: new Date().toISOString(),
        ...(options.service ? { service: options.service } : {}),
      };
      for (const [key, value] of Object.entries(fields ?? {})) entry[key] = serializable(value);
      write(JSON.stringify(entry));
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/**
 * A logger that adds `keys` to every line of `logger`.
 *
 * @example
 * ```ts
 * const log = withLogKeys(jsonLogger(), { workflow: 'orders', uid: 'o-1' });
 * log.info('started'); // {"level":"INFO","message":"started","workflow":"orders","uid":"o-1",…}
 * ```
 */
export function withLogKeys(logger: PluginLogger, keys: LogFields): PluginLogger {
  const bind =
    (method: (message: string, fields?: LogFields) => void) =>
    (message: string, fields?: LogFields): void =>
      method.call(logger, message, { ...keys, ...fields });
  return {
    debug: bind(logger.debug),
    info: bind(logger.info),
    warn: bind(logger.warn),
    error: bind(logger.error),
  };
}

function serializable(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(value.stack ? { stack: value.stack } : {}) };
  }
  return value;
}
