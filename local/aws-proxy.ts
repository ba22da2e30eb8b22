/**
 * A loopback HTTP proxy in front of moto that every SDK client of the local cloud talks to.
 *
 * It forwards every request as it is (method, path, headers, body) and:
 * - isolates DynamoDB requests: a write (any operation that is not a read) is in flight alone; reads
 *   run together. moto runs `TransactWriteItems` without isolation, so two transactions from different
 *   Lambda workers can interleave and corrupt a counter, and a read can see half a transaction; real
 *   DynamoDB isolates every request, and this readers-writer lock restores that guarantee locally;
 * - reports every request to an optional hook (service, operation, sizes, status, duration, bodies),
 *   which is how the local cloud counts and inspects AWS calls;
 * - with an IAM enforcer (local/iam/enforcer.ts), identifies the principal of every request from its
 *   access key, evaluates the request against IAM policies and answers a denied one with the error
 *   AWS returns, and sets the `SenderId` of received SQS messages to their sender's id.
 *
 * moto-api calls (`/moto-api/...`) go through unchanged too, but callers that need moto itself should
 * use the real endpoint (`AwsProxy#target`).
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { LocalCloudError } from './errors.js';
import type { IamEnforcer } from './iam/enforcer.js';
import type { Principal } from './iam/registry.js';

/** One request that went through the proxy. */
export interface ProxiedRequest {
  /** From the SigV4 credential scope (`dynamodb`, `sqs`, `sns`, `monitoring`…); `unknown` when unsigned. */
  readonly service: string;
  /** From `X-Amz-Target` (JSON protocols) or the `Action=` form field (query protocol); `unknown` otherwise. */
  readonly operation: string;
  readonly requestBytes: number;
  readonly responseBytes: number;
  /** HTTP status; 502 when moto could not be reached. */
  readonly status: number;
  readonly durationMs: number;
  readonly requestBody: string;
  readonly responseBody: string;
  /** Who signed the request, when IAM is enforced and the credentials are known. */
  readonly principal?: Principal;
}

export interface AwsProxyOptions {
  /** The emulator to forward to, e.g. `http://127.0.0.1:40123`. */
  readonly target: string;
  /** Called once per request, after its response was sent. Exceptions are ignored. */
  readonly onRequest?: (request: ProxiedRequest) => void;
  /** Services whose writes run one at a time (and never alongside a read). @default ['dynamodb'] */
  readonly serializedServices?: readonly string[];
  /** Evaluates IAM on every request (moto-api calls excepted). @default - no enforcement */
  readonly iam?: IamEnforcer;
}

export class AwsProxyError extends LocalCloudError {}

/** The service of a SigV4-signed request: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
export function serviceOf(headers: IncomingMessage['headers']): string {
  const authorization = headers.authorization;
  const match =
    typeof authorization === 'string'
      ? /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(authorization)
      : null;
  return match?.[1] ?? 'unknown';
}

/** The operation: `X-Amz-Target: DynamoDB_20120810.PutItem` → `PutItem`; else the form's `Action`. */
export function operationOf(headers: IncomingMessage['headers'], body: string): string {
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.length > 0) return target.slice(target.lastIndexOf('.') + 1);
  const contentType = headers['content-type'];
  if (typeof contentType === 'string' && contentType.includes('x-www-form-urlencoded')) {
    const action = new URLSearchParams(body).get('Action');
    if (action) return action;
  }
  return 'unknown';
}

/** DynamoDB operations that only read: they may run together, but never alongside a write. */
const READ_OPERATIONS = new Set([
  'GetItem',
  'BatchGetItem',
  'Query',
  'Scan',
  'TransactGetItems',
  'DescribeTable',
  'ListTables',
  'DescribeTimeToLive',
  'ListTagsOfResource',
]);

/**
 * A fair readers-writer lock: reads run together, a write runs alone, and requests are granted in
 * arrival order (a read that arrives after a waiting write waits for it).
 */
export class ReadWriteLock {
  private readers = 0;
  private writing = false;
  private readonly waiting: { readonly write: boolean; readonly grant: () => void }[] = [];

  run<T>(write: boolean, task: () => Promise<T>): Promise<T> {
    return new Promise<void>((grant) => {
      this.waiting.push({ write, grant });
      this.pump();
    }).then(async () => {
      try {
        return await task();
      } finally {
        if (write) this.writing = false;
        else this.readers -= 1;
        this.pump();
      }
    });
  }

  private pump(): void {
    for (;;) {
      const next = this.waiting[0];
      if (next === undefined || this.writing) return;
      if (next.write && this.readers > 0) return;
      this.waiting.shift();
      if (next.write) this.writing = true;
      else this.readers += 1;
      next.grant();
      if (next.write) return;
    }
  }
}

interface Forwarded {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export class AwsProxy {
  private readonly lock = new ReadWriteLock();
  private readonly sockets = new Set<import('node:net').Socket>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: AwsProxyOptions,
    private readonly targetUrl: URL,
    /** The proxy's base URL, e.g. `http://127.0.0.1:40124`: what SDK clients use as their endpoint. */
    readonly endpoint: string,
  ) {}

  /** Starts the proxy on a free loopback port. */
  static async start(options: AwsProxyOptions): Promise<AwsProxy> {
    const targetUrl = new URL(options.target);
    const serialized = new Set(options.serializedServices ?? ['dynamodb']);
    let proxy: AwsProxy | undefined;
    const server = createServer((req, res) => {
      if (proxy === undefined) {
        res.writeHead(503).end();
        return;
      }
      proxy.handle(req, res, serialized);
    });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(new AwsProxyError('The AWS proxy could not listen', { cause: error })),
      );
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    proxy = new AwsProxy(server, options, targetUrl, `http://127.0.0.1:${port}`);
    server.on('connection', (socket) => {
      proxy?.sockets.add(socket);
      socket.once('close', () => proxy?.sockets.delete(socket));
    });
    return proxy;
  }

  /** The real emulator endpoint (for moto-api calls). */
  get target(): string {
    return this.options.target.replace(/\/+$/, '');
  }

  private handle(req: IncomingMessage, res: ServerResponse, serialized: ReadonlySet<string>): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const service = serviceOf(req.headers);
      const started = performance.now();
      this.answer(req, body, service, serialized)
        .then(({ answer, principal }) => {
          res.writeHead(answer.status, answer.headers);
          res.end(answer.body);
          this.report(req, body, service, answer, started, principal);
        })
        .catch((error: unknown) => {
          const message = `AWS proxy: ${this.target} did not answer (${error instanceof Error ? error.message : String(error)})`;
          const answer: Forwarded = {
            status: 502,
            headers: { 'content-type': 'text/plain' },
            body: Buffer.from(message),
          };
          if (!res.headersSent) res.writeHead(502, answer.headers);
          res.end(answer.body);
          this.report(req, body, service, answer, started, undefined);
        });
    });
  }

  /** Authorizes (with IAM on), forwards, and fixes up what moto answers differently from AWS. */
  private async answer(
    req: IncomingMessage,
    body: Buffer,
    service: string,
    serialized: ReadonlySet<string>,
  ): Promise<{ answer: Forwarded; principal: Principal | undefined }> {
    const iam = this.options.iam;
    const text = body.toString('utf8');
    const operation = operationOf(req.headers, text);
    let principal: Principal | undefined;
    if (iam !== undefined && !(req.url ?? '').startsWith('/moto-api')) {
      const decision = await iam.authorize(service, operation, req.headers, req.url, text);
      if (!decision.allowed) return { answer: decision.response, principal: undefined };
      principal = decision.principal;
    }
    const forward = () => this.forward(req, body);
    const sending =
      iam !== undefined && service === 'sqs' && operation.startsWith('SendMessage')
        ? iam.sendStarted()
        : undefined;
    let answer: Forwarded;
    try {
      answer = await (serialized.has(service)
        ? this.lock.run(!READ_OPERATIONS.has(operation), forward)
        : forward());
      if (sending !== undefined && answer.status === 200 && principal !== undefined) {
        iam?.rememberSent(operation, principal, answer.body.toString('utf8'));
      }
    } finally {
      sending?.();
    }
    if (iam !== undefined && service === 'sqs' && answer.status === 200 && principal !== undefined) {
      if (operation === 'ReceiveMessage') {
        const rewritten = await iam.withSenderIds(answer.body.toString('utf8'));
        if (rewritten !== undefined) {
          const rewrittenBody = Buffer.from(rewritten);
          answer = {
            ...answer,
            headers: { ...answer.headers, 'content-length': String(rewrittenBody.length) },
            body: rewrittenBody,
          };
        }
      }
    }
    return { answer, principal };
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<Forwarded> {
    return new Promise<Forwarded>((resolve, reject) => {
      const upstream = httpRequest(
        {
          hostname: this.targetUrl.hostname,
          port: this.targetUrl.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(body.length) },
        },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (chunk: Buffer) => parts.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const headers = { ...response.headers };
            delete headers['transfer-encoding'];
            const answer = Buffer.concat(parts);
            headers['content-length'] = String(answer.length);
            resolve({ status: response.statusCode ?? 502, headers, body: answer });
          });
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  private report(
    req: IncomingMessage,
    body: Buffer,
    service: string,
    answer: Forwarded,
    started: number,
    principal: Principal | undefined,
  ): void {
    const hook = this.options.onRequest;
    if (hook === undefined) return;
    const requestBody = body.toString('utf8');
    try {
      hook({
        service,
        operation: operationOf(req.headers, requestBody),
        requestBytes: body.length,
        responseBytes: answer.body.length,
        status: answer.status,
        durationMs: performance.now() - started,
        requestBody,
        responseBody: answer.body.toString('utf8'),
        ...(principal !== undefined ? { principal } : {}),
      });
    } catch {
      // A failing hook must not break the request it observes.
    }
  }

  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }
}
