/**
 * The Lambda Invoke API on 127.0.0.1, so `@aws-sdk/client-lambda` pointed at it (for example through
 * `AWS_ENDPOINT_URL_LAMBDA`) reaches the hosted functions:
 * `POST /2015-03-31/functions/{FunctionName|ARN}/invocations` with `X-Amz-Invocation-Type`
 * `RequestResponse` (default), `Event` (202, run in the background) or `DryRun` (204). A function
 * error answers 200 with `X-Amz-Function-Error: Unhandled` and the error as payload, as AWS does.
 * Nothing else of the Lambda API is served.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FunctionNotFoundError, FunctionThrottledError, RunnerStoppedError } from '../errors.js';
import type { InvocationResult } from './function-pool.js';

const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;
const ASYNC_PAYLOAD_LIMIT = 256 * 1024;
const LOG_TAIL_BYTES = 4096;

export interface InvokeBackend {
  /** Runs the function and waits; throws FunctionNotFoundError / FunctionThrottledError. */
  invokeSync(target: string, payload: string): Promise<InvocationResult>;
  /** Queues an asynchronous invocation and returns its request ID; throws like invokeSync. */
  invokeAsync(target: string, payload: string): string;
  /** Throws FunctionNotFoundError when the target is unknown. */
  check(target: string): void;
  /**
   * Decides whether the caller (by its signed headers) may invoke the target; answers with the
   * refusal to send (status, headers, body) when not. @default - every caller may invoke
   */
  authorize?(
    headers: IncomingMessage['headers'],
    target: string,
  ): Promise<{ status: number; headers: Record<string, string>; body: Buffer } | undefined>;
}

export interface InvokeServer {
  readonly endpoint: string;
  close(): Promise<void>;
}

const ROUTE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

export async function startInvokeServer(backend: InvokeBackend): Promise<InvokeServer> {
  const server = createServer((request, response) => {
    handle(backend, request, response).catch((error: unknown) => {
      sendError(response, 500, 'ServiceException', error instanceof Error ? error.message : String(error));
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('the Invoke server has no TCP address');
  return { endpoint: `http://127.0.0.1:${address.port}`, close: () => closeServer(server) };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function sendError(response: ServerResponse, status: number, type: string, message: string): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': type });
  response.end(JSON.stringify({ Type: 'User', message }));
}

async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > limit) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(
  backend: InvokeBackend,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const route = ROUTE.exec(url.pathname);
  if (request.method !== 'POST' || route === null || route[1] === undefined) {
    await readBody(request, SYNC_PAYLOAD_LIMIT);
    sendError(
      response,
      404,
      'UnknownOperationException',
      `The local Lambda endpoint implements only Invoke (POST /2015-03-31/functions/{name}/invocations); got ${request.method} ${url.pathname}`,
    );
    return;
  }
  // `name`, `name:qualifier`, a partial or full ARN; a `?Qualifier=` is appended like a suffix.
  const qualifier = url.searchParams.get('Qualifier');
  const target = decodeURIComponent(route[1]);
  const fullTarget = qualifier !== null ? `${target}:${qualifier}` : target;
  if (backend.authorize !== undefined) {
    const refusal = await backend.authorize(request.headers, fullTarget);
    if (refusal !== undefined) {
      await readBody(request, SYNC_PAYLOAD_LIMIT);
      response.writeHead(refusal.status, refusal.headers).end(refusal.body);
      return;
    }
  }
  const invocationType = String(request.headers['x-amz-invocation-type'] ?? 'RequestResponse');
  const limit = invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT : SYNC_PAYLOAD_LIMIT;
  const body = await readBody(request, limit);
  if (body === undefined) {
    sendError(
      response,
      413,
      'RequestTooLargeException',
      `Request must be smaller than ${limit} bytes for the ${invocationType} invocation type`,
    );
    return;
  }
  const payload = body.trim() === '' ? '{}' : body;
  try {
    JSON.parse(payload);
  } catch {
    sendError(response, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
    return;
  }
  try {
    switch (invocationType) {
      case 'DryRun':
        backend.check(fullTarget);
        response.writeHead(204).end();
        return;
      case 'Event': {
        const requestId = backend.invokeAsync(fullTarget, payload);
        response.writeHead(202, { 'x-amzn-RequestId': requestId }).end();
        return;
      }
      case 'RequestResponse':
        break;
      default:
        sendError(
          response,
          400,
          'InvalidParameterValueException',
          `Unknown invocation type ${invocationType}`,
        );
        return;
    }
    const result = await backend.invokeSync(fullTarget, payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-RequestId': result.requestId,
      'X-Amz-Executed-Version': '$LATEST',
    };
    if (request.headers['x-amz-log-type'] === 'Tail') {
      const tail = Buffer.from(`${result.logs.join('\n')}\n`, 'utf8');
      headers['X-Amz-Log-Result'] = tail
        .subarray(Math.max(0, tail.length - LOG_TAIL_BYTES))
        .toString('base64');
    }
    let responseBody: string;
    if (result.ok) {
      responseBody = JSON.stringify(result.payload);
      if (Buffer.byteLength(responseBody) > SYNC_PAYLOAD_LIMIT) {
        headers['X-Amz-Function-Error'] = 'Unhandled';
        responseBody = JSON.stringify({
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_PAYLOAD_LIMIT} bytes).`,
        });
      }
    } else {
      headers['X-Amz-Function-Error'] = 'Unhandled';
      responseBody = JSON.stringify({
        errorType: result.error.errorType,
        errorMessage: result.error.errorMessage,
        trace: result.error.trace,
      });
    }
    response.writeHead(200, headers).end(responseBody);
  } catch (error) {
    if (error instanceof FunctionNotFoundError) {
      sendError(response, 404, 'ResourceNotFoundException', error.message);
    } else if (error instanceof FunctionThrottledError) {
      sendError(response, 429, 'TooManyRequestsException', `Rate Exceeded. ${error.message}`);
    } else if (error instanceof RunnerStoppedError) {
      sendError(response, 503, 'ServiceException', error.message);
    } else {
      throw error;
    }
  }
}
