/**
 * The control endpoint of a kept local cloud: a small HTTP API on loopback (a random port) that lets
 * other processes — the CLI's `--local credentials`, `--local deploy`, `--local destroy` — ask the
 * process running the cloud for what only it holds: the functions' role credentials, the deployer with
 * its exports, the registrar and the runner. `npm start -- --keep` starts it and writes its URL and a
 * random bearer token into the local state file (mode 0600), next to the endpoints.
 *
 * Every request needs `Authorization: Bearer <token>`, is at most MAX_CONTROL_BODY_BYTES, and is
 * validated (local/control-protocol.ts); every failure is a JSON error with a type, a message and a
 * hint. Deploys and destroys run one at a time (the deployer is not re-entrant).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { z } from 'zod';
import { readAssembly } from './assembly.js';
import {
  CONTROL_PATHS,
  type ControlErrorBody,
  deployRequestSchema,
  destroyRequestSchema,
  MAX_CONTROL_BODY_BYTES,
  type StackSummary,
} from './control-protocol.js';
import type { DeployedStack } from './deployer.js';
import { ExportInUseError, ResourceDeletionError } from './deployer.js';
import { LocalCloudError } from './errors.js';
import type { LocalCloud } from './local-cloud.js';

export interface ControlServerOptions {
  readonly cloud: LocalCloud;
  /** Called after a deploy or destroy changed the stacks (e.g. to rewrite the state file's exports). */
  readonly onChange?: () => Promise<void> | void;
  /** Progress lines (one per deploy or destroy). @default - none */
  readonly log?: (line: string) => void;
}

/** A failure answered to the caller: HTTP status, and the JSON error. */
class ControlRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: ControlErrorBody,
  ) {
    super(body.message);
    this.name = new.target.name;
  }
}

const bad = (status: number, type: string, message: string, hint?: string) =>
  new ControlRequestError(status, { type, message, ...(hint !== undefined ? { hint } : {}) });

function summary(stack: DeployedStack): StackSummary {
  return {
    stackName: stack.stackName,
    resources: stack.resources.size,
    functions: [...stack.resources.values()]
      .filter((resource) => resource.type === 'AWS::Lambda::Function')
      .map((resource) => resource.physicalId),
    exports: { ...stack.exports },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_CONTROL_BODY_BYTES) {
    request.resume();
    throw bad(
      413,
      'RequestTooLarge',
      `the request body has ${declared} bytes; at most ${MAX_CONTROL_BODY_BYTES}`,
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_CONTROL_BODY_BYTES) {
      request.resume();
      throw bad(413, 'RequestTooLarge', `the request body exceeds ${MAX_CONTROL_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody<T>(text: string, schema: z.ZodType<T>, example: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad(400, 'InvalidRequest', 'the request body is not JSON', `send e.g. ${example}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('; ');
    throw bad(400, 'InvalidRequest', `the request is invalid (${issues})`, `send e.g. ${example}`);
  }
  return parsed.data;
}

export class ControlServer {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly server: Server,
    private readonly options: ControlServerOptions,
    /** `http://127.0.0.1:<port>` */
    readonly url: string,
    /** The bearer token every request must carry. */
    readonly token: string,
  ) {}

  /** Listens on a random loopback port with a new random token. */
  static async start(options: ControlServerOptions): Promise<ControlServer> {
    const token = randomBytes(32).toString('base64url');
    let control: ControlServer | undefined;
    const server = createServer((request, response) => {
      if (control === undefined) {
        response.writeHead(503).end();
        return;
      }
      void control.handle(request, response);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new LocalCloudError('the control endpoint has no port');
    control = new ControlServer(server, options, `http://127.0.0.1:${address.port}`, token);
    return control;
  }

  /** What the local state file records, so that the CLI finds and may use this endpoint. */
  get state(): { readonly url: string; readonly token: string } {
    return { url: this.url, token: this.token };
  }

  private authorized(request: IncomingMessage): boolean {
    const header = request.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '');
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let status = 200;
    let body: unknown;
    try {
      if (!this.authorized(request)) {
        request.resume();
        throw bad(
          401,
          'Unauthorized',
          'missing or wrong bearer token',
          'the CLI reads the token from the local state file (.plugboard/local.json); restart the local cloud (npm start -- --keep) if it is stale',
        );
      }
      body = await this.route(request);
    } catch (error) {
      const failure = error instanceof ControlRequestError ? error : this.describe(error);
      status = failure.status;
      body = { ok: false, error: failure.body };
    }
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    response.end(text);
  }

  private async route(request: IncomingMessage): Promise<unknown> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const method = request.method ?? 'GET';
    const routes: Record<string, { method: string; run: () => Promise<unknown> }> = {
      [CONTROL_PATHS.functions]: { method: 'GET', run: async () => this.functions() },
      [CONTROL_PATHS.stacks]: {
        method: 'GET',
        run: async () => ({ ok: true, stacks: this.options.cloud.deployer.stacks().map(summary) }),
      },
      [CONTROL_PATHS.deploy]: {
        method: 'POST',
        run: async () =>
          this.exclusive(async () =>
            this.deploy(
              parseBody(await readBody(request), deployRequestSchema, '{"assembly":"/abs/path/to/cdk.out"}'),
            ),
          ),
      },
      [CONTROL_PATHS.destroy]: {
        method: 'POST',
        run: async () =>
          this.exclusive(async () =>
            this.destroy(
              parseBody(await readBody(request), destroyRequestSchema, '{"stack":"my-plugin-stack"}').stack,
            ),
          ),
      },
    };
    const route = routes[path];
    if (route === undefined) {
      request.resume();
      throw bad(
        404,
        'NotFound',
        `no operation at ${path}`,
        `operations: ${Object.values(CONTROL_PATHS).join(', ')}`,
      );
    }
    if (route.method !== method) {
      request.resume();
      throw bad(405, 'MethodNotAllowed', `${path} takes ${route.method}, not ${method}`);
    }
    return route.run();
  }

  /** Runs deploys and destroys one at a time, in arrival order. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private functions(): unknown {
    const { cloud } = this.options;
    return {
      ok: true,
      iam: cloud.iam !== undefined,
      functions: cloud.functionIdentities().map(({ functionName, roleArn, roleId, credentials }) => ({
        functionName,
        roleArn,
        roleId,
        credentials,
      })),
    };
  }

  private async deploy(request: { assembly: string; stacks?: string[] | undefined }): Promise<unknown> {
    const { cloud } = this.options;
    const assembly = await readAssembly(request.assembly);
    const before = new Set(cloud.deployer.stacks().map((stack) => stack.stackName));
    const deployed = await cloud.deploy(assembly, {
      replace: true,
      ...(request.stacks !== undefined ? { stacks: request.stacks } : {}),
    });
    await this.options.onChange?.();
    const stacks = deployed.map((stack) => ({
      ...summary(stack),
      action: before.has(stack.stackName) ? ('updated' as const) : ('created' as const),
      durationMs: stack.durationMs,
    }));
    for (const stack of stacks) {
      this.options.log?.(
        `control: ${stack.action} ${stack.stackName} (${stack.resources} resources, ${stack.durationMs} ms)`,
      );
    }
    return { ok: true, stacks };
  }

  private async destroy(stackName: string): Promise<unknown> {
    const { cloud } = this.options;
    const remaining = () => cloud.deployer.stacks().map((stack) => stack.stackName);
    if (cloud.deployer.stack(stackName) === undefined) {
      return { ok: true, stackName, destroyed: false, resources: 0, exports: [], remaining: remaining() };
    }
    const destroyed = await cloud.destroy(stackName);
    await this.options.onChange?.();
    this.options.log?.(
      `control: destroyed ${stackName} (${destroyed.resources} resources, ${destroyed.durationMs} ms)`,
    );
    return {
      ok: true,
      stackName,
      destroyed: true,
      resources: destroyed.resources,
      exports: destroyed.exports,
      remaining: remaining(),
    };
  }

  /** A deploy or destroy failure as the caller should see it: what is wrong, and what to do. */
  private describe(error: unknown): ControlRequestError {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ExportInUseError) return bad(409, error.name, message);
    if (error instanceof ResourceDeletionError) return bad(500, error.name, message);
    if (error instanceof LocalCloudError) {
      return bad(
        422,
        error.name,
        message,
        'fix the assembly (cdk synth again) and deploy again; a stack that half-deployed is replaced by the next deploy',
      );
    }
    return bad(500, 'InternalError', message, 'see the output of the process running the local cloud');
  }

  /** Stops listening; requests in flight are cut. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
