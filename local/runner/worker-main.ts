/**
 * Runs inside a worker thread: one execution environment of one function, like a Lambda container.
 * It loads the bundle's handler once (ESM `.mjs`, CJS `.js`/`.cjs`, or ESM `.js` under a
 * `"type": "module"` package.json, as the Lambda Node.js runtime decides), then serves one invocation
 * at a time. Modules the Lambda runtime provides (`@aws-sdk/*`, `@smithy/*`) resolve from the
 * project's node_modules when the bundle does not contain them. Console output goes to the runner as
 * lines tagged with the request ID.
 *
 * This file is compiled by esbuild at runner start-up and started with `eval: true`, so it must only
 * import Node built-ins (and types).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compileFunction } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { importsRuntimeProvided, RUNTIME_PROVIDED } from './runtime-provided.js';
import type { InvokeMessage, WorkerInit, WorkerMessage } from './worker-protocol.js';
import { toErrorPayload } from './worker-protocol.js';

interface Handler {
  readonly call: (
    event: unknown,
    context: unknown,
    callback: (error: unknown, result?: unknown) => void,
  ) => unknown;
  /** Declared parameters: 3 means a callback-style handler. */
  readonly arity: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function readInit(value: unknown): WorkerInit {
  if (
    !isRecord(value) ||
    typeof value.functionName !== 'string' ||
    typeof value.functionArn !== 'string' ||
    typeof value.memorySizeMb !== 'number' ||
    typeof value.handler !== 'string' ||
    typeof value.codeDirectory !== 'string' ||
    typeof value.runtimeModulesFrom !== 'string' ||
    typeof value.logGroupName !== 'string' ||
    typeof value.logStreamName !== 'string'
  ) {
    throw new Error('the Lambda worker was started without a valid WorkerInit');
  }
  return {
    functionName: value.functionName,
    functionArn: value.functionArn,
    memorySizeMb: value.memorySizeMb,
    handler: value.handler,
    codeDirectory: value.codeDirectory,
    runtimeModulesFrom: value.runtimeModulesFrom,
    logGroupName: value.logGroupName,
    logStreamName: value.logStreamName,
  };
}

class HandlerError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

function main(): void {
  const port = parentPort;
  if (port === null) throw new Error('worker-main must run in a worker thread');
  const init = readInit(workerData);
  const post = (message: WorkerMessage) => port.postMessage(message);
  let currentRequestId: string | undefined;

  // Console capture: every complete line goes to the runner with the request it belongs to.
  const buffers = { stdout: '', stderr: '' };
  const emitLines = (stream: 'stdout' | 'stderr') => {
    let newline = buffers[stream].indexOf('\n');
    while (newline >= 0) {
      post({ type: 'log', requestId: currentRequestId, stream, line: buffers[stream].slice(0, newline) });
      buffers[stream] = buffers[stream].slice(newline + 1);
      newline = buffers[stream].indexOf('\n');
    }
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    process[stream].write = (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      buffers[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      emitLines(stream);
      const callback = rest.find((item) => typeof item === 'function');
      if (typeof callback === 'function') callback();
      return true;
    };
  }
  const flushAll = () => {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (buffers[stream] !== '')
        post({ type: 'log', requestId: currentRequestId, stream, line: buffers[stream] });
      buffers[stream] = '';
    }
  };

  loadHandler(init).then(
    (handler) => {
      post({ type: 'ready' });
      port.on('message', (message: unknown) => {
        if (!isInvoke(message)) return;
        currentRequestId = message.requestId;
        invoke(handler, init, message).then(
          (payload) => {
            flushAll();
            post({ type: 'result', requestId: message.requestId, ok: true, payload });
          },
          (error: unknown) => {
            flushAll();
            post({ type: 'result', requestId: message.requestId, ok: false, error: toErrorPayload(error) });
          },
        );
      });
    },
    (error: unknown) => {
      flushAll();
      post({ type: 'init-error', error: toErrorPayload(error) });
    },
  );
}

function isInvoke(value: unknown): value is InvokeMessage {
  return (
    isRecord(value) &&
    value.type === 'invoke' &&
    typeof value.requestId === 'string' &&
    typeof value.payload === 'string' &&
    typeof value.deadline === 'number'
  );
}

/** ESM bundles: a resolve hook that retries runtime-provided packages from the project. */
function registerRuntimeModuleFallback(runtimeModulesFrom: string): void {
  const hooks = `
const fallbackParent = ${JSON.stringify(runtimeModulesFrom)};
const provided = ${RUNTIME_PROVIDED.toString()};
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (provided.test(specifier) && error && error.code === 'ERR_MODULE_NOT_FOUND') {
      return next(specifier, { ...context, parentURL: fallbackParent });
    }
    throw error;
  }
}`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
}

async function loadHandler(init: WorkerInit): Promise<Handler> {
  const slash = init.handler.lastIndexOf('/');
  const dot = init.handler.indexOf('.', slash + 1);
  if (dot <= slash + 1 || dot === init.handler.length - 1) {
    throw new HandlerError(
      'Runtime.MalformedHandlerName',
      `Bad handler ${init.handler}: expected <file>.<export>, e.g. index.handler`,
    );
  }
  const modulePath = init.handler.slice(0, dot);
  const exportPath = init.handler.slice(dot + 1).split('.');
  const file = ['.js', '.mjs', '.cjs']
    .map((extension) => join(init.codeDirectory, `${modulePath}${extension}`))
    .find((candidate) => existsSync(candidate));
  if (file === undefined) {
    throw new HandlerError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${modulePath}' in ${init.codeDirectory} (tried .js, .mjs, .cjs)`,
    );
  }
  // The resolve hook runs on a loader thread of its own (~75 ms of CPU per environment), so it is
  // only registered for bundles that import a runtime-provided package (CJS `require` has its own
  // fallback in loadCommonJs).
  if (importsRuntimeProvided(readFileSync(file, 'utf8'))) {
    registerRuntimeModuleFallback(init.runtimeModulesFrom);
  }
  const exports = isEsm(file, init.codeDirectory)
    ? await import(pathToFileURL(file).href)
    : loadCommonJs(file, init.runtimeModulesFrom);
  let target: unknown = exports;
  for (const key of exportPath) target = isRecord(target) ? target[key] : undefined;
  if (typeof target !== 'function') {
    throw new HandlerError('Runtime.HandlerNotFound', `${init.handler} is undefined or not exported`);
  }
  const handler = target;
  return {
    call: (event, context, callback) => Reflect.apply(handler, undefined, [event, context, callback]),
    arity: handler.length,
  };
}

/** The Lambda Node.js runtime's rule: .mjs is ESM, .cjs is CJS, .js follows the nearest package.json. */
function isEsm(file: string, codeDirectory: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  let directory = dirname(file);
  while (directory.startsWith(codeDirectory)) {
    const manifest = join(directory, 'package.json');
    if (existsSync(manifest)) {
      const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
      return isRecord(parsed) && parsed.type === 'module';
    }
    if (directory === codeDirectory) break;
    directory = dirname(directory);
  }
  return false;
}

/**
 * Loads a CommonJS bundle without Node's package-type lookup (a bundle under a `"type": "module"`
 * project must still load as CJS, as on Lambda), with a `require` that falls back to the project for
 * runtime-provided packages.
 */
function loadCommonJs(file: string, runtimeModulesFrom: string): unknown {
  const local = createRequire(file);
  const fallback = createRequire(new URL(runtimeModulesFrom));
  const isMissing = (error: unknown) => isRecord(error) && error.code === 'MODULE_NOT_FOUND';
  const requireFn = Object.assign(
    (id: string): unknown => {
      try {
        return local(id);
      } catch (error) {
        if (RUNTIME_PROVIDED.test(id) && isMissing(error)) return fallback(id);
        throw error;
      }
    },
    {
      resolve: Object.assign(
        (id: string): string => {
          try {
            return local.resolve(id);
          } catch (error) {
            if (RUNTIME_PROVIDED.test(id) && isMissing(error)) return fallback.resolve(id);
            throw error;
          }
        },
        { paths: local.resolve.paths },
      ),
      cache: local.cache,
      extensions: local.extensions,
      main: undefined,
    },
  );
  const module = { exports: {} as unknown, filename: file, id: file, loaded: false, children: [], paths: [] };
  const source = readFileSync(file, 'utf8').replace(/^#!.*/, '');
  const wrapper = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], {
    filename: file,
  });
  wrapper.call(module.exports, module.exports, requireFn, module, file, dirname(file));
  module.loaded = true;
  return module.exports;
}

async function invoke(handler: Handler, init: WorkerInit, message: InvokeMessage): Promise<string> {
  const event: unknown = JSON.parse(message.payload);
  const context = {
    functionName: init.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: init.functionArn,
    memoryLimitInMB: String(init.memorySizeMb),
    awsRequestId: message.requestId,
    logGroupName: init.logGroupName,
    logStreamName: init.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
  };
  const result = await new Promise<unknown>((resolve, reject) => {
    const returned = handler.call(event, context, (error, value) => (error ? reject(error) : resolve(value)));
    if (isRecord(returned) && typeof returned.then === 'function') {
      Promise.resolve(returned).then(resolve, reject);
    } else if (handler.arity < 3) {
      resolve(returned);
    }
  });
  return JSON.stringify(result === undefined ? null : result);
}

main();
