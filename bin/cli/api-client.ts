/**
 * The CLI's client of the Plugboard HTTP API (`--api <url>`): requests signed with SigV4 for
 * `execute-api` with the caller's AWS credentials (the SDK's default chain), or sent with a bearer
 * token (`--token`) when the API uses its JWT authorizer. Answers are checked with the API's own
 * response schemas; refusals (problem+json from the API, `{message}` from API Gateway's authorizers)
 * become errors that say what was refused and what to change.
 */
import { createHash, createHmac } from 'node:crypto';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import type { z } from 'zod';
import { matchRoute, SCOPES } from '../../lambdas/api/routes.js';
import { problemSchema } from '../../lambdas/api/schemas.js';
import { CliError, EXIT, NotFoundError, UsageError } from './errors.js';

/** How the API is told who calls. */
export type ApiAuth =
  | {
      readonly kind: 'sigv4';
      readonly region: string;
      readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
    }
  | { readonly kind: 'bearer'; readonly token: string };

export interface ApiClientOptions {
  /** The API's base URL (its `$default` stage: `https://<id>.execute-api.<region>.amazonaws.com`). */
  readonly url: string;
  readonly auth: ApiAuth;
  /**
   * `<system>-<stage>`, for the names of the managed policies in a refusal's hint.
   * @default - the placeholder `<system>-<stage>`
   */
  readonly deploymentPrefix?: string;
  /** @default - the global fetch */
  readonly fetch?: typeof fetch;
}

/** A refusal or failure of the API; `status` is the HTTP status (0: no answer). */
export class ApiRequestError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly problem?: z.infer<typeof problemSchema>,
  ) {
    super(message, { exitCode: EXIT.failure });
  }
}

/** The API has no such run, workflow or route (404). */
export class ApiNotFoundError extends NotFoundError {
  constructor(
    message: string,
    readonly problem?: z.infer<typeof problemSchema>,
  ) {
    super(message);
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** node:crypto as the signer's SHA-256 (an HMAC when given a secret). */
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

/** The region an API Gateway URL names (`<id>.execute-api.<region>.amazonaws.com`), if any. */
export function regionOfApiUrl(url: URL): string | undefined {
  return /^[^.]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(url.hostname)?.[1];
}

/** Parses `--api`: an http(s) URL, or a usage error naming the expected form. */
export function parseApiUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `--api "${value}" is not a URL: give the API's base URL, like https://abc123.execute-api.eu-west-1.amazonaws.com (the stack's <system>-<stage>-api-url export).`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UsageError(`--api "${value}" must be an http:// or https:// URL.`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`--api "${value}" must be the base URL only, without a query or fragment.`);
  }
  return url;
}

/** The AWS credentials of the default chain (environment, profile, SSO, instance role...). */
export function defaultCredentials(region: string): AwsCredentialIdentityProvider {
  return async () => {
    const client = new LambdaClient({ region });
    try {
      return await client.config.credentials();
    } finally {
      client.destroy();
    }
  };
}

export interface ApiAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

export class ApiClient {
  private readonly base: URL;
  private readonly fetchImpl: typeof fetch;
  private readonly signer?: SignatureV4;

  constructor(private readonly options: ApiClientOptions) {
    this.base = parseApiUrl(options.url);
    this.fetchImpl = options.fetch ?? fetch;
    if (options.auth.kind === 'sigv4') {
      this.signer = new SignatureV4({
        credentials: options.auth.credentials,
        region: options.auth.region,
        service: 'execute-api',
        sha256: NodeSha256,
      });
    }
  }

  get url(): string {
    return this.base.href;
  }

  /** `/workflows/{workflow}/runs/{uid}` with each segment encoded. */
  static path(...segments: readonly string[]): string {
    return `/${segments.map(encodeURIComponent).join('/')}`;
  }

  /**
   * Sends a request and answers its JSON body parsed with `schema` (2xx only). Everything else
   * throws: a 404 as {@link ApiNotFoundError}, the rest as {@link ApiRequestError}.
   */
  async request<S extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    schema: S,
    options: { readonly body?: unknown; readonly query?: Readonly<Record<string, string>> } = {},
  ): Promise<{ status: number; headers: Headers; body: z.output<S> }> {
    const answer = await this.send(method, path, options);
    const parsed = schema.safeParse(answer.body);
    if (!parsed.success) {
      throw new ApiRequestError(
        `The API answered ${method} ${path} with ${answer.status} and a body this CLI does not understand (${JSON.stringify(answer.body).slice(0, 200)}). Is the CLI the same version as the deployment?`,
        answer.status,
      );
    }
    return { status: answer.status, headers: answer.headers, body: parsed.data };
  }

  /** Sends a request; a 2xx answer is returned, anything else thrown as an error that says why. */
  async send(
    method: 'GET' | 'POST',
    path: string,
    options: { readonly body?: unknown; readonly query?: Readonly<Record<string, string>> } = {},
  ): Promise<ApiAnswer> {
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const url = new URL(`${basePath}${path}`, this.base);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      host: url.host,
      accept: 'application/json, application/problem+json',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    };
    if (this.signer !== undefined) {
      const query: Record<string, string> = {};
      for (const [key, value] of url.searchParams) query[key] = value;
      const signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port !== '' ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      Object.assign(headers, signed.headers);
    } else if (this.options.auth.kind === 'bearer') {
      headers.authorization = `Bearer ${this.options.auth.token}`;
    }
    // fetch sets Host itself (and refuses to be given one).
    const { host: _host, ...sent } = headers;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: sent,
        ...(body !== undefined ? { body } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiRequestError(
        `Cannot reach the API at ${this.base.origin} (${cause?.code ?? cause?.message ?? (error as Error).message}). Check --api (or PLUGBOARD_API_URL)${/^(localhost|127\.)/.test(this.base.hostname) ? '; for the local cloud, is `npm start -- --keep` still running?' : ' and your network'}.`,
        0,
      );
    }
    const text = await response.text();
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: kept as text for the message.
      }
    }
    if (response.ok) return { status: response.status, headers: response.headers, body: parsed };
    throw this.refusal(method, path, response, parsed);
  }

  /** An error for a non-2xx answer that says what was refused and what to do. */
  private refusal(method: string, path: string, response: Response, body: unknown): CliError {
    const { status } = response;
    const problem = problemSchema.safeParse(body);
    const contentType = response.headers.get('content-type') ?? '';
    if (problem.success && contentType.startsWith('application/problem+json')) {
      const issues = (problem.data.issues ?? []).map((i) => `${i.path}: ${i.message}`);
      const message = `${problem.data.detail}${issues.length > 0 ? ` (${issues.join('; ')})` : ''}`;
      if (status === 404) return new ApiNotFoundError(message, problem.data);
      return new ApiRequestError(`${status} ${problem.data.title}: ${message}`, status, problem.data);
    }
    const reason = response.headers.get('x-plugboard-reason');
    const said =
      typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string'
        ? (body as { message: string }).message
        : typeof body === 'string'
          ? body.slice(0, 200)
          : '';
    // API Gateway's own refusals say only "Forbidden"/"Unauthorized": the status line says that already.
    const detail = [
      said === response.statusText || /^(Forbidden|Unauthorized)$/.test(said) ? '' : said,
      reason,
    ]
      .filter((s) => s !== null && s !== '')
      .join(': ');
    const route = matchRoute(method, path.replace(/\?.*$/, ''));
    const permission = route.kind === 'route' ? route.route.permission : undefined;
    if (status === 403) {
      const needs =
        permission === undefined
          ? ''
          : this.options.auth.kind === 'bearer'
            ? ` It needs the "${permission}" permission: a token with the scope ${SCOPES[permission]}.`
            : ` It needs the "${permission}" permission: attach the managed policy exported as ${this.options.deploymentPrefix ?? '<system>-<stage>'}-api-${permission}-policy-arn to the caller's role (or user).`;
      return new ApiRequestError(
        `The API refused ${method} ${path} (403 Forbidden${detail !== '' ? `: ${detail}` : ''}).${needs}`,
        status,
      );
    }
    if (status === 401) {
      const fix =
        this.options.auth.kind === 'bearer'
          ? "Pass a valid, unexpired token of the API's issuer with --token (or PLUGBOARD_API_TOKEN)."
          : 'Check your AWS credentials (AWS_PROFILE, aws sso login...); an API with the JWT authorizer needs --token instead.';
      return new ApiRequestError(
        `The API did not accept the caller for ${method} ${path} (401 Unauthorized${detail !== '' ? `: ${detail}` : ''}). ${fix}`,
        status,
      );
    }
    if (status === 404) {
      return new ApiNotFoundError(
        `The API has no ${method} ${path} (404${detail !== '' ? `: ${detail}` : ''}). Is --api the base URL of a Plugboard API?`,
      );
    }
    return new ApiRequestError(
      `The API answered ${method} ${path} with ${status}${detail !== '' ? `: ${detail}` : ''}.${status >= 500 ? ' Try again; if it persists, look at the API function logs.' : ''}`,
      status,
    );
  }
}
