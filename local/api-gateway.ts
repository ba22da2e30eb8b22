/**
 * The local API gateway: serves a deployed HTTP API (API Gateway v2, as the API stack's template
 * declares it) on loopback. It reads the routes, their authorization and scopes, the authorizer and
 * the integrated function from the stack's template, and for each request it
 *
 * 1. picks the route (`METHOD /path/{param}`, else `$default`), as API Gateway does;
 * 2. authorizes it: `AWS_IAM` verifies the SigV4 signature (local/sigv4.ts) against the secrets the
 *    local IAM registry issued and asks the local IAM evaluation whether the principal may
 *    `execute-api:Invoke` the route's ARN (the dummy admin keys may call everything); `JWT` verifies
 *    an RS256 token of a local issuer (its issuer and audience from the template) and the route's
 *    scopes; refusals answer like API Gateway (`401`/`403` `{"message":…}`);
 * 3. invokes the integrated function through the Lambda runner with a payload 2.0 event, and turns
 *    its answer into the HTTP response (a plain value becomes a 200 JSON body, a failure a 500).
 */
import { createSign, createVerify, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { DeployedStack } from './deployer.js';
import type { LocalCloud } from './local-cloud.js';
import { verifySigV4 } from './sigv4.js';

/** API Gateway's payload limit for HTTP APIs. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

interface LocalRoute {
  readonly method: string;
  readonly path: string;
  readonly authorization: 'AWS_IAM' | 'JWT' | 'NONE';
  readonly scopes: readonly string[];
}

export interface LocalApiGatewayOptions {
  /** The deployed API stack (its template names routes, authorizer and function). */
  readonly stack: DeployedStack;
  readonly local: LocalCloud;
  /** Public keys of the local JWT issuer (see {@link LocalJwtIssuer}), checked for JWT routes. */
  readonly jwtKeys?: readonly KeyObject[];
  /** @default - a free port */
  readonly port?: number;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A local OIDC-like issuer for tests: RS256 tokens with issuer, audience, scopes and expiry. */
export class LocalJwtIssuer {
  readonly publicKey: KeyObject;
  private readonly privateKey: KeyObject;

  constructor(readonly issuer: string) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = pair.publicKey;
    this.privateKey = pair.privateKey;
  }

  token(claims: {
    readonly audience: string;
    readonly scopes: readonly string[];
    readonly subject?: string;
    readonly expiresInSeconds?: number;
  }): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT' };
    const body = {
      iss: this.issuer,
      aud: claims.audience,
      sub: claims.subject ?? 'local-user',
      scope: claims.scopes.join(' '),
      iat: now,
      exp: now + (claims.expiresInSeconds ?? 300),
    };
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const unsigned = `${encode(header)}.${encode(body)}`;
    const signature = createSign('RSA-SHA256').update(unsigned).sign(this.privateKey).toString('base64url');
    return `${unsigned}.${signature}`;
  }
}

function templateOf(stack: DeployedStack): {
  Resources: Record<string, { Type: string; Properties?: Json }>;
} {
  return stack.artifact.template as { Resources: Record<string, { Type: string; Properties?: Json }> };
}

/** The logical id a `Ref` or `Fn::GetAtt` (or a join containing one) points at. */
function referenced(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  const join = value['Fn::Join'];
  if (Array.isArray(join) && Array.isArray(join[1])) {
    for (const part of join[1]) {
      const found = referenced(part);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

export class ApiGatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class LocalApiGateway {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly apiId: string,
  ) {}

  /** Starts serving the HTTP API of `options.stack`. */
  static async start(options: LocalApiGatewayOptions): Promise<LocalApiGateway> {
    const { stack, local } = options;
    const resources = templateOf(stack).Resources;
    const entries = Object.entries(resources);
    const api = entries.find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api');
    if (api === undefined)
      throw new ApiGatewayConfigError(`${stack.stackName} declares no AWS::ApiGatewayV2::Api`);
    const apiId = stack.resources.get(api[0])?.physicalId ?? api[0];
    let functionName: string | undefined;
    let jwt: { issuer: string; audience: readonly string[] } | undefined;
    const routes: LocalRoute[] = [];
    let defaultRoute: LocalRoute | undefined;
    for (const [, resource] of entries) {
      const p = resource.Properties ?? {};
      if (resource.Type === 'AWS::ApiGatewayV2::Integration') {
        const target = referenced(p.IntegrationUri);
        if (target !== undefined) functionName = stack.resources.get(target)?.physicalId;
      } else if (resource.Type === 'AWS::ApiGatewayV2::Authorizer' && isRecord(p.JwtConfiguration)) {
        const audience = Array.isArray(p.JwtConfiguration.Audience)
          ? p.JwtConfiguration.Audience.map(String)
          : [];
        jwt = { issuer: String(p.JwtConfiguration.Issuer), audience };
      } else if (resource.Type === 'AWS::ApiGatewayV2::Route') {
        const key = String(p.RouteKey);
        const authorization = (
          typeof p.AuthorizationType === 'string' ? p.AuthorizationType : 'NONE'
        ) as LocalRoute['authorization'];
        const scopes = Array.isArray(p.AuthorizationScopes) ? p.AuthorizationScopes.map(String) : [];
        if (key === '$default') {
          defaultRoute = { method: '*', path: '*', authorization, scopes };
        } else {
          const [method = '', path = ''] = key.split(' ');
          routes.push({ method, path, authorization, scopes });
        }
      }
    }
    if (functionName === undefined) {
      throw new ApiGatewayConfigError(`${stack.stackName}: no integration points at a deployed function`);
    }
    const target = functionName;
    const registry = local.iam?.registry;
    const region = local.cloud.region;
    const accountId = local.cloud.accountId;

    const match = (
      method: string,
      path: string,
    ): { route: LocalRoute; params: Record<string, string>; key: string } | undefined => {
      for (const route of routes) {
        if (route.method !== method && route.method !== 'ANY') continue;
        const want = route.path.split('/');
        const got = path.split('/');
        if (want.length !== got.length) continue;
        const params: Record<string, string> = {};
        let ok = true;
        want.forEach((part, i) => {
          const value = got[i] ?? '';
          if (part.startsWith('{') && part.endsWith('}')) {
            if (value === '') ok = false;
            else params[part.slice(1, -1)] = safeDecode(value);
          } else if (part !== value) ok = false;
        });
        if (ok) return { route, params, key: `${route.method} ${route.path}` };
      }
      return defaultRoute ? { route: defaultRoute, params: {}, key: '$default' } : undefined;
    };

    const answer = (
      res: ServerResponse,
      status: number,
      message: string,
      headers: Record<string, string> = {},
    ) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'apigw-requestid': randomUUID(),
        ...headers,
      });
      res.end(JSON.stringify({ message }));
    };

    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_PAYLOAD_BYTES) {
          answer(res, 413, 'Request Entity Too Large');
          return;
        }
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      const at = url.indexOf('?');
      const rawPath = at < 0 ? url : url.slice(0, at);
      const rawQuery = at < 0 ? '' : url.slice(at + 1);
      const method = (req.method ?? 'GET').toUpperCase();
      const found = match(method, rawPath);
      if (found === undefined) {
        answer(res, 404, 'Not Found');
        return;
      }
      const { route, params, key } = found;
      let authorizer: Json | undefined;
      if (route.authorization === 'AWS_IAM') {
        if (registry === undefined || local.iam === undefined) {
          authorizer = undefined; // IAM not enforced locally: every caller may call
        } else {
          const checked = verifySigV4(
            { method, rawPath, rawQuery, headers: req.headers, body },
            { region, service: 'execute-api' },
            (accessKeyId, token) => registry.signingSecretFor(accessKeyId, token)?.secret,
          );
          if (!checked.ok) {
            answer(res, checked.status, checked.status === 401 ? 'Unauthorized' : 'Forbidden', {
              'x-plugboard-reason': checked.reason.slice(0, 300),
            });
            return;
          }
          const principal = registry.principalFor(checked.accessKeyId, checked.sessionToken);
          if (principal === undefined) {
            answer(res, 403, 'Forbidden');
            return;
          }
          const resource = `arn:aws:execute-api:${region}:${accountId}:${apiId}/$default/${method}${rawPath}`;
          const denial = await local.iam.firstDenial(principal, [
            { action: 'execute-api:Invoke', resource, context: {} },
          ]);
          if (denial !== undefined) {
            answer(res, 403, 'Forbidden', {
              'x-plugboard-reason': `User: ${principal.arn} is not authorized to perform: execute-api:Invoke on resource: ${resource}`,
            });
            return;
          }
          authorizer = {
            iam: {
              accessKey: checked.accessKeyId,
              accountId,
              callerId: principal.userId,
              principalOrgId: null,
              userArn: principal.arn,
              userId: principal.userId,
            },
          };
        }
      } else if (route.authorization === 'JWT') {
        const verdict = verifyJwt(req.headers.authorization, jwt, options.jwtKeys ?? [], route.scopes);
        if (!verdict.ok) {
          answer(res, verdict.status, verdict.status === 401 ? 'Unauthorized' : 'Forbidden', {
            'x-plugboard-reason': verdict.reason,
          });
          return;
        }
        authorizer = { jwt: { claims: verdict.claims, scopes: verdict.scopes } };
      }
      const event = payloadV2(req, {
        method,
        rawPath,
        rawQuery,
        body,
        key,
        params,
        apiId,
        accountId,
        authorizer,
      });
      const result = await local.runner.invoke(target, event);
      if (!result.ok) {
        answer(res, 500, 'Internal Server Error');
        return;
      }
      writeResult(res, result.payload);
    };

    const server = createServer((req, res) => {
      handle(req, res).catch(() => {
        if (!res.headersSent) answer(res, 500, 'Internal Server Error');
        else res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new ApiGatewayConfigError('no port');
    return new LocalApiGateway(server, `http://127.0.0.1:${address.port}`, apiId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const TEXT_TYPES = /^(text\/|application\/(?:[\w.+-]+\+)?(?:json|xml|javascript|x-www-form-urlencoded))/i;

/** API Gateway's payload format 2.0 event for one request. */
function payloadV2(
  req: IncomingMessage,
  r: {
    method: string;
    rawPath: string;
    rawQuery: string;
    body: Buffer;
    key: string;
    params: Record<string, string>;
    apiId: string;
    accountId: string;
    authorizer: Json | undefined;
  },
): Json {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(r.rawQuery)) {
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  }
  const contentType = headers['content-type'] ?? '';
  const binary = r.body.length > 0 && !TEXT_TYPES.test(contentType);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: r.key,
    rawPath: r.rawPath,
    rawQueryString: r.rawQuery,
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(Object.keys(r.params).length > 0 ? { pathParameters: r.params } : {}),
    requestContext: {
      accountId: r.accountId,
      apiId: r.apiId,
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: r.apiId,
      http: {
        method: r.method,
        path: r.rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: r.key,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
      ...(r.authorizer !== undefined ? { authorizer: r.authorizer } : {}),
    },
    ...(r.body.length > 0 ? { body: binary ? r.body.toString('base64') : r.body.toString('utf8') } : {}),
    isBase64Encoded: binary,
  };
}

/** A function's answer as API Gateway turns it into a response (payload 2.0 rules). */
function writeResult(res: ServerResponse, payload: unknown): void {
  if (!isRecord(payload) || typeof payload.statusCode !== 'number') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(payload ?? null));
    return;
  }
  const headers: Record<string, string | string[]> = {};
  if (isRecord(payload.headers)) for (const [k, v] of Object.entries(payload.headers)) headers[k] = String(v);
  if (Array.isArray(payload.cookies)) headers['set-cookie'] = payload.cookies.map(String);
  const body = typeof payload.body === 'string' ? payload.body : '';
  res.writeHead(payload.statusCode, headers);
  res.end(payload.isBase64Encoded === true ? Buffer.from(body, 'base64') : body);
}

type JwtVerdict =
  | { readonly ok: true; readonly claims: Json; readonly scopes: readonly string[] }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

/** RS256 JWT check as API Gateway's JWT authorizer does it: signature, iss, aud, exp, then scopes. */
export function verifyJwt(
  authorization: string | undefined,
  settings: { issuer: string; audience: readonly string[] } | undefined,
  keys: readonly KeyObject[],
  requiredScopes: readonly string[],
  now: Date = new Date(),
): JwtVerdict {
  if (settings === undefined)
    return { ok: false, status: 401, reason: 'the template declares no JWT authorizer' };
  const token = authorization?.replace(/^Bearer\s+/i, '');
  const parts = token?.split('.') ?? [];
  if (parts.length !== 3) return { ok: false, status: 401, reason: 'no bearer token' };
  const [head = '', body = '', signature = ''] = parts;
  let header: Json;
  let claims: Json;
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8')) as Json;
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Json;
  } catch {
    return { ok: false, status: 401, reason: 'the token is not a JWT' };
  }
  if (header.alg !== 'RS256') return { ok: false, status: 401, reason: 'only RS256 tokens are accepted' };
  const signed = keys.some((key) =>
    createVerify('RSA-SHA256').update(`${head}.${body}`).verify(key, Buffer.from(signature, 'base64url')),
  );
  if (!signed) return { ok: false, status: 401, reason: 'the token signature does not verify' };
  if (claims.iss !== settings.issuer)
    return { ok: false, status: 401, reason: 'the token has another issuer' };
  const audience = Array.isArray(claims.aud)
    ? claims.aud.map(String)
    : [String(claims.aud ?? claims.client_id)];
  if (!audience.some((a) => settings.audience.includes(a))) {
    return { ok: false, status: 401, reason: 'the token is for another audience' };
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= now.getTime()) {
    return { ok: false, status: 401, reason: 'the token expired' };
  }
  const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
  if (requiredScopes.length > 0 && !requiredScopes.some((s) => scopes.includes(s))) {
    return { ok: false, status: 403, reason: `the token lacks the scope ${requiredScopes.join(' or ')}` };
  }
  return { ok: true, claims, scopes };
}
