/**
 * The plugin kit's typed errors. Every class carries a brand made with `Symbol.for`, so the `isX()`
 * checks also recognise errors created by another copy of the kit (a plugin that bundles its own).
 * `retryable` tells the wrappers how to report a failure: the orchestrator retries only retryable ones.
 */

const brandSymbol = (name: string): symbol => Symbol.for(`@plugboard/plugin-kit/${name}`);

function brand(target: { prototype: object }, name: string): void {
  Object.defineProperty(target.prototype, brandSymbol(name), { value: true, enumerable: false });
}

function hasBrand(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && Reflect.get(value, brandSymbol(name)) === true;
}

/** Base class of every error the kit defines. Keeps `cause`; says whether a retry can help. */
export abstract class PluginKitError extends Error {
  /** Whether the orchestrator should try again (a transient failure) or give up. */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'PluginKitError';
  }

  static {
    brand(PluginKitError, 'PluginKitError');
  }
}

/**
 * A plugin's own, final failure: throw it from a handler and the wrapper reports `Error` with
 * `retryable: false`, so the orchestrator does not try again. Any other error is reported retryable.
 *
 * @example
 * ```ts
 * if (!order.customerId) throw new PluginError('order has no customerId', { code: 'NO_CUSTOMER' });
 * ```
 */
export class PluginError extends PluginKitError {
  readonly retryable: boolean = false;
  /** A short machine-readable reason, when the plugin gives one. */
  readonly code: string | undefined;

  constructor(message: string, options?: { readonly cause?: unknown; readonly code?: string }) {
    super(message, options);
    this.name = 'PluginError';
    this.code = options?.code;
  }

  static {
    brand(PluginError, 'PluginError');
  }
}

/**
 * The predecessor's name for a reported, final failure (`@moe-tech/orchestrator`). Kept so ported
 * plugins compile unchanged; it is a {@link PluginError} and is reported with `retryable: false`.
 *
 * @example
 * ```ts
 * throw new OrchestratorError('the invoice was rejected');
 * ```
 */
export class OrchestratorError extends PluginError {
  /** The predecessor's marker of an error that is reported rather than rethrown. */
  readonly setStatus = true;

  constructor(message: string, options?: { readonly cause?: unknown; readonly code?: string }) {
    super(message, options);
    this.name = 'OrchestratorError';
  }

  static {
    brand(OrchestratorError, 'OrchestratorError');
  }
}

/** The `PluginInfo` given to a wrapper or construct is invalid. Thrown when the wrapper is created. */
export class InvalidPluginInfoError extends PluginKitError {
  readonly retryable = false;

  constructor(readonly problems: readonly string[]) {
    super(`Invalid PluginInfo: ${problems.join('; ')}`);
    this.name = 'InvalidPluginInfoError';
  }

  static {
    brand(InvalidPluginInfoError, 'InvalidPluginInfoError');
  }
}

/** A required environment variable or option is missing. */
export class ConfigurationError extends PluginKitError {
  readonly retryable = false;

  constructor(
    message: string,
    readonly variable: string,
  ) {
    super(message);
    this.name = 'ConfigurationError';
  }

  static {
    brand(ConfigurationError, 'ConfigurationError');
  }
}

/** A handler returned a result larger than the report allows (LIMITS.resultBytes) or not JSON. */
export class ResultTooLargeError extends PluginKitError {
  readonly retryable = false;

  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `result is ${bytes} bytes of JSON; the limit is ${limit} bytes (LIMITS.resultBytes). Store large outputs elsewhere (e.g. S3) and return a reference.`,
    );
    this.name = 'ResultTooLargeError';
  }

  static {
    brand(ResultTooLargeError, 'ResultTooLargeError');
  }
}

/** A handler returned something that cannot be serialized as JSON (a cycle, a BigInt…). */
export class InvalidResultError extends PluginKitError {
  readonly retryable = false;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidResultError';
  }

  static {
    brand(InvalidResultError, 'InvalidResultError');
  }
}

/**
 * A report (or the queue bridge's forward) could not be sent. The SNS wrappers throw it and the SQS
 * wrapper returns the record as a batch item failure, so the platform delivers the message again.
 */
export class ReportDeliveryError extends PluginKitError {
  readonly retryable = true;

  constructor(
    message: string,
    /** The queue that did not take the message, when there was one. */
    readonly queueUrl: string | undefined,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReportDeliveryError';
  }

  static {
    brand(ReportDeliveryError, 'ReportDeliveryError');
  }
}

/** The status table could not be read, or held an item that is not a plugin status. */
export class StatusReadError extends PluginKitError {
  readonly retryable = true;

  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = 'StatusReadError';
  }

  static {
    brand(StatusReadError, 'StatusReadError');
  }
}

/** A wrapper was invoked with an event it does not understand (wrong trigger for this wrapper). */
export class UnsupportedEventError extends PluginKitError {
  readonly retryable = false;

  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedEventError';
  }

  static {
    brand(UnsupportedEventError, 'UnsupportedEventError');
  }
}

/** The props of a plugin construct are invalid; `problems` lists every one of them. */
export class InvalidPluginPropsError extends PluginKitError {
  readonly retryable = false;

  constructor(
    readonly construct: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${construct} has ${problems.length} invalid prop${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'InvalidPluginPropsError';
  }

  static {
    brand(InvalidPluginPropsError, 'InvalidPluginPropsError');
  }
}

/** Whether `value` is any error of the plugin kit (from this copy of the kit or another one). */
export const isPluginKitError = (value: unknown): value is PluginKitError =>
  hasBrand(value, 'PluginKitError');
/** Whether `value` is a {@link PluginError} (including {@link OrchestratorError}). */
export const isPluginError = (value: unknown): value is PluginError => hasBrand(value, 'PluginError');
/** Whether `value` is an {@link OrchestratorError}. */
export const isOrchestratorError = (value: unknown): value is OrchestratorError =>
  hasBrand(value, 'OrchestratorError');
export const isInvalidPluginInfoError = (value: unknown): value is InvalidPluginInfoError =>
  hasBrand(value, 'InvalidPluginInfoError');
export const isConfigurationError = (value: unknown): value is ConfigurationError =>
  hasBrand(value, 'ConfigurationError');
export const isResultTooLargeError = (value: unknown): value is ResultTooLargeError =>
  hasBrand(value, 'ResultTooLargeError');
export const isInvalidResultError = (value: unknown): value is InvalidResultError =>
  hasBrand(value, 'InvalidResultError');
export const isReportDeliveryError = (value: unknown): value is ReportDeliveryError =>
  hasBrand(value, 'ReportDeliveryError');
export const isStatusReadError = (value: unknown): value is StatusReadError =>
  hasBrand(value, 'StatusReadError');
export const isUnsupportedEventError = (value: unknown): value is UnsupportedEventError =>
  hasBrand(value, 'UnsupportedEventError');
export const isInvalidPluginPropsError = (value: unknown): value is InvalidPluginPropsError =>
  hasBrand(value, 'InvalidPluginPropsError');

/**
 * How a thrown value is reported: kit errors say it themselves; an object with a truthy `setStatus`
 * (the predecessor's convention) is final; everything else is retryable.
 */
export function isRetryable(error: unknown): boolean {
  if (isPluginKitError(error)) return error.retryable === true;
  if (typeof error === 'object' && error !== null && Reflect.get(error, 'setStatus')) return false;
  return true;
}

/** The message of any thrown value, for a report or a log line. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'object' && error !== null) {
    const message = Reflect.get(error, 'message');
    if (typeof message === 'string' && message.length > 0) return message;
  }
  return String(error);
}
