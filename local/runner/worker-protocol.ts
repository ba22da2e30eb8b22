/**
 * Messages between the Lambda runner and the worker thread that hosts one execution environment of a
 * function. Payloads cross the boundary as JSON text, as they do on AWS, so a handler never shares an
 * object with the runner.
 */

/** `workerData` of a function's worker. */
export interface WorkerInit {
  readonly functionName: string;
  readonly functionArn: string;
  readonly memorySizeMb: number;
  /** `<file>.<export>` from the function's Handler property, relative to `codeDirectory`. */
  readonly handler: string;
  readonly codeDirectory: string;
  /** A file URL from which the modules the Lambda runtime provides (`@aws-sdk/*`) are resolved. */
  readonly runtimeModulesFrom: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
}

export interface InvokeMessage {
  readonly type: 'invoke';
  readonly requestId: string;
  /** The event as JSON text. */
  readonly payload: string;
  /** Epoch milliseconds at which the invocation times out. */
  readonly deadline: number;
}

export interface ErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

export type WorkerMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: ErrorPayload }
  | {
      readonly type: 'log';
      readonly requestId: string | undefined;
      readonly stream: 'stdout' | 'stderr';
      readonly line: string;
    }
  | { readonly type: 'result'; readonly requestId: string; readonly ok: true; readonly payload: string }
  | { readonly type: 'result'; readonly requestId: string; readonly ok: false; readonly error: ErrorPayload };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isErrorPayload(value: unknown): value is ErrorPayload {
  return (
    isRecord(value) &&
    typeof value.errorType === 'string' &&
    typeof value.errorMessage === 'string' &&
    Array.isArray(value.trace) &&
    value.trace.every((line) => typeof line === 'string')
  );
}

/** Checks a message that arrived from a worker (the worker runs user code: trust nothing). */
export function parseWorkerMessage(value: unknown): WorkerMessage | undefined {
  if (!isRecord(value)) return undefined;
  switch (value.type) {
    case 'ready':
      return { type: 'ready' };
    case 'init-error':
      return isErrorPayload(value.error) ? { type: 'init-error', error: value.error } : undefined;
    case 'log':
      if (
        (value.stream === 'stdout' || value.stream === 'stderr') &&
        typeof value.line === 'string' &&
        (value.requestId === undefined || typeof value.requestId === 'string')
      ) {
        return { type: 'log', requestId: value.requestId, stream: value.stream, line: value.line };
      }
      return undefined;
    case 'result':
      if (typeof value.requestId !== 'string') return undefined;
      if (value.ok === true && typeof value.payload === 'string') {
        return { type: 'result', requestId: value.requestId, ok: true, payload: value.payload };
      }
      if (value.ok === false && isErrorPayload(value.error)) {
        return { type: 'result', requestId: value.requestId, ok: false, error: value.error };
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Turns anything thrown into the error shape Lambda reports. */
export function toErrorPayload(error: unknown): ErrorPayload {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n').filter((line) => line.trim() !== ''),
    };
  }
  return {
    errorType: typeof error === 'string' ? 'string' : 'Error',
    errorMessage: String(error),
    trace: [],
  };
}
