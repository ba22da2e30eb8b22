/**
 * The console in the local cloud: serves the console bundle (console/build.ts) with no sign-in, and
 * stands between it and the local API gateway as the console's identity. The browser calls `/api/…`
 * on this origin; the server signs each call with SigV4 (service execute-api) as its identity — the
 * local administrator by default, or any local role's credentials (e.g. one holding the API stack's
 * reader policy) — so the gateway's IAM check and the API function see exactly what an AWS caller
 * with that role would. `identity.json` answers who that is and which permissions the local IAM
 * evaluation grants it (execute-api:Invoke on a route of each permission), so the console shows
 * only the actions that would succeed.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { CONSOLE_DIST } from '../console/build.js';
import { type Permission, ROUTES } from '../lambdas/api/routes.js';
import type { LocalApiGateway } from './api-gateway.js';
import { LOCAL_CREDENTIALS } from './cloud.js';
import type { LocalCredentials } from './iam/registry.js';
import type { LocalCloud } from './local-cloud.js';

export interface ConsoleIdentityOption {
  /** Shown in the console's header. */
  readonly name: string;
  readonly credentials: LocalCredentials;
}

export interface ConsoleServerOptions {
  readonly gateway: LocalApiGateway;
  readonly local: LocalCloud;
  /** @default - the local administrator (may call every route) */
  readonly identity?: ConsoleIdentityOption;
  /** The built console. @default console/dist */
  readonly distDir?: string;
  /** How often the console polls while something is in progress. @default 2000 */
  readonly pollMs?: number;
  /** @default - a free port */
  readonly port?: number;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
};
/** Only the bundle's own files: nothing from elsewhere, no inline scripts. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const STATIC = new Set(['/index.html', '/app.js', '/app.css']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** node:crypto as the SigV4 signer's hash (HMAC when given a secret). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

export interface ConsoleIdentity {
  readonly name: string;
  readonly permissions: {
    readonly read: boolean;
    readonly start: readonly string[] | '*';
    readonly operate: boolean;
  };
  readonly source: string;
}

export class ConsoleServer {
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(options: ConsoleServerOptions): Promise<ConsoleServer> {
    const dist = options.distDir ?? CONSOLE_DIST;
    const credentials: LocalCredentials = options.identity?.credentials ?? LOCAL_CREDENTIALS;
    const name = options.identity?.name ?? 'local administrator';
    const region = options.local.cloud.region;
    const signer = new SignatureV4({ credentials, region, service: 'execute-api', sha256: NodeSha256 });
    const api = new URL(options.gateway.url);

    const forward = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const target = new URL(path, api);
      const headers: Record<string, string> = { host: target.host };
      for (const name of ['content-type', 'accept']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const query: Record<string, string> = {};
      for (const [k, v] of target.searchParams) query[k] = v;
      const method = (req.method ?? 'GET').toUpperCase();
      const signed = await signer.sign({
        method,
        protocol: 'http:',
        hostname: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        query,
        headers,
        ...(body.length > 0 ? { body: body.toString('utf8') } : {}),
      });
      const answer = await fetch(target, {
        method,
        headers: signed.headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const out: Record<string, string> = { 'cache-control': 'no-store' };
      answer.headers.forEach((value, key) => {
        if (!HOP_BY_HOP.has(key) && key !== 'content-encoding') out[key] = value;
      });
      res.writeHead(answer.status, out);
      res.end(Buffer.from(await answer.arrayBuffer()));
    };

    const identity = async (): Promise<ConsoleIdentity> => {
      const iam = options.local.iam;
      if (iam === undefined) {
        return {
          name,
          permissions: { read: true, start: '*', operate: true },
          source: 'IAM is not enforced in this local cloud',
        };
      }
      const principal = iam.registry.principalFor(credentials.accessKeyId, credentials.sessionToken);
      if (principal === undefined) {
        return {
          name,
          permissions: { read: false, start: [], operate: false },
          source: 'unknown credentials',
        };
      }
      const arn = (method: string, path: string) =>
        `arn:aws:execute-api:${region}:${options.local.cloud.accountId}:${options.gateway.apiId}/$default/${method}${path}`;
      const allowed = async (permission: Permission, workflow: string): Promise<boolean> => {
        const route = ROUTES.find(
          (r) => r.permission === permission && r.path.startsWith('/workflows/{workflow}'),
        );
        if (route === undefined) return false;
        const path = route.path
          .replace('{workflow}', workflow)
          .replace('{uid}', 'console-check')
          .replace('{activity}', 'console-check')
          .replace('{stage}', 'pre')
          .replace('{plugin}', 'console-check');
        const denial = await iam.firstDenial(principal, [
          { action: 'execute-api:Invoke', resource: arn(route.method, path), context: {} },
        ]);
        return denial === undefined;
      };
      const names = await ConsoleServer.workflowNames(forwardJson);
      const [read, operate, ...starts] = await Promise.all([
        allowed('read', names[0] ?? 'order'),
        allowed('operate', names[0] ?? 'order'),
        ...names.map((w) => allowed('start', w)),
      ]);
      const startable = names.filter((_, i) => starts[i]);
      return {
        name,
        permissions: {
          read,
          start: startable.length === names.length && names.length > 0 ? '*' : startable,
          operate,
        },
        source: `local IAM evaluation of ${principal.kind === 'admin' ? 'the administrator' : principal.roleName}`,
      };
    };

    const forwardJson = async (path: string): Promise<unknown> => {
      const target = new URL(path, api);
      const signed = await signer.sign({
        method: 'GET',
        protocol: 'http:',
        hostname: target.hostname,
        port: Number(target.port),
        path: target.pathname,
        headers: { host: target.host },
      });
      const answer = await fetch(target, { headers: signed.headers });
      return answer.ok ? answer.json() : undefined;
    };

    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://console');
      const path = url.pathname;
      if (path === '/api' || path.startsWith('/api/')) {
        await forward(req, res, `${path.slice(4) || '/'}${url.search}`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' });
        res.end();
        return;
      }
      if (path === '/config.json') {
        json(res, {
          apiBase: '/api',
          auth: { kind: 'local', identityUrl: 'identity.json' },
          pollMs: options.pollMs ?? 2000,
        });
        return;
      }
      if (path === '/identity.json') {
        json(res, await identity());
        return;
      }
      const file = path === '/' ? '/index.html' : path;
      if (!STATIC.has(file)) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`not found: ${path}`);
        return;
      }
      let content: Buffer;
      try {
        content = await readFile(join(dist, file));
      } catch {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(`the console is not built in ${dist}: run \`npx tsx console/build.ts\``);
        return;
      }
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
        ...SECURITY_HEADERS,
      });
      res.end(req.method === 'HEAD' ? undefined : content);
    };

    const server = createServer((req, res) => {
      handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/problem+json' });
          res.end(
            JSON.stringify({
              type: 'urn:plugboard:problem:unavailable',
              title: 'The local API did not answer',
              status: 502,
              detail: error instanceof Error ? error.message : String(error),
            }),
          );
        } else res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the console server has no port');
    return new ConsoleServer(server, `http://127.0.0.1:${address.port}`);
  }

  private static async workflowNames(get: (path: string) => Promise<unknown>): Promise<string[]> {
    const answer = (await get('/workflows')) as { workflows?: { name: string }[] } | undefined;
    return (answer?.workflows ?? []).map((w) => w.name);
  }

  /** The console URL of a run (what lifecycle events and `plugboard status` link to). */
  runUrl(workflow: string, uid: string): string {
    return `${this.url}/#/runs/${encodeURIComponent(workflow)}/${encodeURIComponent(uid)}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

function json(res: ServerResponse, value: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}
