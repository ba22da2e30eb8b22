/**
 * The HTTP API end to end over real HTTP: the Plugboard app and the example plugins deployed to the
 * local cloud, the API served by the local API gateway (SigV4 verified, execute-api:Invoke decided by
 * the local IAM evaluation, payload 2.0 events into the same Lambda bundle), requests signed with
 * @smithy/signature-v4. Every route's answers, idempotent start, the 4xx problems, pagination, and a
 * reader (a role with the exported reader policy) refused on operator and start routes.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { App, Fn, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, ManagedPolicy, Role } from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../lambdas/api/routes.js';
import {
  healthSchema,
  operatorResultSchema,
  pluginListSchema,
  problemSchema,
  runPageSchema,
  runSummarySchema,
  runTreeSchema,
  workflowListSchema,
} from '../../lambdas/api/schemas.js';
import { API_EXPORTS } from '../../lib/api-stack.js';
import { LocalApiGateway, LocalJwtIssuer, verifyJwt } from '../../local/api-gateway.js';
import { LOCAL_CREDENTIALS } from '../../local/cloud.js';
import { DemoEnvironment } from '../../local/demo/environment.js';
import { synthDemo } from '../../local/demo/synth.js';
import type { LocalCredentials } from '../../local/iam/registry.js';
import { E2E_STAGE } from '../e2e/fixture.js';
import { useMoto } from '../support/moto.js';

const moto = useMoto();
const D = { systemName: 'plugboard', stage: E2E_STAGE };

let env: DemoEnvironment;
let gateway: LocalApiGateway;
let reader: LocalCredentials;
let operator: LocalCredentials;

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** node:crypto as the signer's hash (HMAC when given a secret). */
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

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

async function call(
  method: string,
  path: string,
  options: {
    body?: string | object;
    contentType?: string;
    credentials?: LocalCredentials | false;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const url = new URL(path, gateway.url);
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    host: url.host,
    ...(body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
    ...options.headers,
  };
  if (options.credentials !== false) {
    const signer = new SignatureV4({
      credentials: options.credentials ?? LOCAL_CREDENTIALS,
      region: 'us-east-1',
      service: 'execute-api',
      sha256: NodeSha256,
    });
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signed = await signer.sign({
      method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    Object.assign(headers, signed.headers);
  }
  const response = await fetch(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

function problem(
  answer: Answer,
  status: number,
): { detail: string; issues?: { path: string }[] } & Record<string, unknown> {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  return problemSchema.parse(answer.body) as never;
}

async function waitFor(uid: string, state: string, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const answer = await call('GET', `/workflows/order/runs/${uid}`);
    if ((answer.body as { state?: string }).state === state) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`run ${uid} did not reach ${state}`);
}

/** Roles with the API stack's exported reader and operator policies, as a caller's stack would make them. */
function callerRolesAssembly(): string {
  const outdir = mkdtempSync(join(tmpdir(), 'api-callers-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'api-callers');
  for (const permission of ['read', 'operate'] as const) {
    new Role(stack, `${permission}Role`, {
      assumedBy: new AccountRootPrincipal(),
      managedPolicies: [
        ManagedPolicy.fromManagedPolicyArn(
          stack,
          `${permission}Policy`,
          Fn.importValue(API_EXPORTS.policyArn(D, permission)),
        ),
      ],
    });
  }
  app.synth();
  return outdir;
}

beforeAll(async () => {
  env = await DemoEnvironment.start(synthDemo({ stage: E2E_STAGE }), {
    stage: E2E_STAGE,
    endpoint: moto.endpoint,
    handleSignals: false,
    scheduleSpeedUp: 10,
    asyncRetryDelaysSeconds: [0],
    defaultConcurrency: 2,
    pollersPerEventSource: 1,
    prewarm: 1,
    initTimeoutMs: 60_000,
    onLog: () => {},
  });
  const [callers] = await env.local.deploy(callerRolesAssembly());
  const registry = env.local.iam?.registry;
  if (callers === undefined || registry === undefined) throw new Error('IAM is not enforced');
  const roleArn = (logical: string) => {
    const found = [...callers.resources.values()].find(
      (r) => r.type === 'AWS::IAM::Role' && r.logicalId.startsWith(logical),
    );
    return String(found?.attributes.Arn);
  };
  reader = registry.issueCredentials('api-reader', roleArn('readRole'));
  operator = registry.issueCredentials('api-operator', roleArn('operateRole'));
  const apiStack = env.local.deployer.stack(`plugboard-${E2E_STAGE}-api`);
  if (apiStack === undefined) throw new Error('the API stack was not deployed');
  gateway = await LocalApiGateway.start({ stack: apiStack, local: env.local });
}, 600_000);

afterAll(async () => {
  await gateway?.close();
  await env?.stop();
});

describe('HTTP API over the local cloud', () => {
  it('answers health, the OpenAPI document (every route in it), workflows and plugins', async () => {
    expect(healthSchema.parse((await call('GET', '/health')).body).deploymentStage).toBe(E2E_STAGE);
    const openapi = (await call('GET', '/openapi.json')).body as {
      openapi: string;
      paths: Record<string, object>;
    };
    expect(openapi.openapi).toBe('3.1.0');
    for (const route of ROUTES) expect(openapi.paths[route.path]).toHaveProperty(route.method.toLowerCase());
    const workflows = workflowListSchema.parse((await call('GET', '/workflows')).body);
    expect(workflows.workflows).toMatchObject([
      { name: 'order', activities: ['intake', 'fulfilment', 'notify'] },
    ]);
    expect(workflows.workflows[0]?.input?.failPayment).toEqual({
      type: 'string',
      required: false,
      enum: ['once', 'always', 'first-run'],
      description: 'Make charge-payment fail (demo)',
    });
    const plugins = pluginListSchema.parse((await call('GET', '/plugins')).body);
    expect(plugins.plugins.map((p) => p.plugin)).toContain('validate-order');
  });

  it('starts a run: 201 with Location, the same start 200, other metadata 409', async () => {
    const first = await call('POST', '/workflows/order/runs', {
      body: { uid: 'api-1', metadata: { customer: 'c-1' } },
    });
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toBe('/workflows/order/runs/api-1');
    expect(runSummarySchema.parse(first.body).uid).toBe('api-1');
    const again = await call('POST', '/workflows/order/runs', {
      body: { uid: 'api-1', metadata: { customer: 'c-1' } },
    });
    expect(again.status).toBe(200);
    expect(runSummarySchema.parse(again.body).generation).toBe(1);
    const other = problem(
      await call('POST', '/workflows/order/runs', { body: { uid: 'api-1', metadata: { customer: 'c-9' } } }),
      409,
    );
    expect(other.detail).toMatch(/different metadata/);
  });

  it('shows the status tree with per-state times once the run completes', async () => {
    await waitFor('api-1', 'Complete');
    const tree = runTreeSchema.parse((await call('GET', '/workflows/order/runs/api-1')).body);
    expect(tree.tree.map((a) => a.activity)).toEqual(['intake', 'fulfilment', 'notify']);
    const validate = tree.tree[0]?.stages
      .flatMap((s) => s.plugins)
      .find((p) => p.plugin === 'validate-order');
    expect(validate?.stateTimes.Complete).toBeDefined();
    expect(tree.stateTimes.Complete).toBeDefined();
  });

  it('refuses bad starts with problems: unknown workflow, invalid body, too large, wrong type, bad JSON', async () => {
    const unknown = problem(await call('POST', '/workflows/refund/runs', { body: { uid: 'x' } }), 404);
    expect(unknown.detail).toMatch(/Known workflows: order/);
    const invalid = problem(
      await call('POST', '/workflows/order/runs', {
        body: { uid: 'has space', metadata: { uid: 1 }, extra: true },
      }),
      400,
    );
    expect(invalid.issues?.map((i) => i.path).sort()).toEqual(['(root)', 'metadata.uid', 'uid']);
    problem(
      await call('POST', '/workflows/order/runs', {
        body: { uid: 'big', metadata: { blob: 'x'.repeat(70_000) } },
      }),
      413,
    );
    problem(await call('POST', '/workflows/order/runs', { body: 'uid=x', contentType: 'text/plain' }), 415);
    const malformed = problem(await call('POST', '/workflows/order/runs', { body: '{"uid": ' }), 400);
    expect(malformed.detail).toMatch(/not valid JSON/);
  });

  it('answers unknown routes 404 and wrong methods 405 with Allow, as problems', async () => {
    problem(await call('GET', '/nothing/here'), 404);
    const wrong = await call('DELETE', '/workflows/order/runs');
    problem(wrong, 405);
    expect(wrong.headers.get('allow')).toBe('POST, GET');
    problem(await call('GET', '/workflows/order/runs/never-started'), 404);
  });

  it('lists runs page by page through the runs index, and refuses a foreign cursor', async () => {
    for (const uid of ['page-a', 'page-b', 'page-c']) {
      expect(
        (await call('POST', '/workflows/order/runs', { body: { uid, metadata: { customer: uid } } })).status,
      ).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const answer = await call('GET', `/workflows/order/runs?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const page = runPageSchema.parse(answer.body);
      expect(page.runs.length).toBeLessThanOrEqual(2);
      seen.push(...page.runs.map((r) => r.uid));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c', 'api-1']));
    expect(new Set(seen).size).toBe(seen.length);
    const first = runPageSchema.parse((await call('GET', '/workflows/order/runs?limit=1')).body);
    problem(
      await call('GET', `/workflows/order/runs?limit=1&state=Complete&cursor=${first.nextCursor}`),
      400,
    );
    const badLimit = problem(await call('GET', '/workflows/order/runs?limit=1000&state=Done'), 400);
    expect(badLimit.issues?.map((i) => i.path).sort()).toEqual(['limit', 'state']);
  });

  it('cancels a run in progress (again: the same answer); cancelling a finished run is refused with 409', async () => {
    await call('POST', '/workflows/order/runs', {
      body: { uid: 'api-cancel', metadata: { customer: 'c', hangCourier: true } },
    });
    const cancelled = await call('POST', '/workflows/order/runs/api-cancel/cancel', {
      body: { reason: 'test' },
      credentials: operator,
    });
    expect(cancelled.status).toBe(200);
    expect(operatorResultSchema.parse(cancelled.body).run.state).toBe('Cancelled');
    // A repeated cancel repeats the fence and the event (idempotent) and answers the cancelled run.
    const again = await call('POST', '/workflows/order/runs/api-cancel/cancel', { credentials: operator });
    expect(operatorResultSchema.parse(again.body).run.state).toBe('Cancelled');
    await waitFor('api-1', 'Complete');
    const finished = problem(
      await call('POST', '/workflows/order/runs/api-1/cancel', { credentials: operator }),
      409,
    );
    expect(finished.detail).toMatch(/already Complete/);
  });

  it('retries and reruns a failed run as new generations; skip names the registered plugins', async () => {
    await call('POST', '/workflows/order/runs', {
      body: { uid: 'api-fail', metadata: { customer: 'c', failPayment: 'always' } },
    });
    await waitFor('api-fail', 'Error');
    const retried = await call('POST', '/workflows/order/runs/api-fail/retry', { credentials: operator });
    expect(retried.status).toBe(200);
    expect(operatorResultSchema.parse(retried.body).run.generation).toBe(2);
    problem(await call('POST', '/workflows/order/runs/api-fail/rerun', { credentials: operator }), 409);
    const skip = problem(
      await call('POST', '/workflows/order/runs/api-fail/plugins/fulfilment/parallel/no-such-plugin/skip', {
        credentials: operator,
      }),
      409,
    );
    expect(skip.detail).toMatch(/registered ones are/);
    await waitFor('api-fail', 'Error');
    const rerun = await call('POST', '/workflows/order/runs/api-fail/rerun', {
      body: {},
      credentials: operator,
    });
    expect(operatorResultSchema.parse(rerun.body).run.generation).toBe(3);
  });

  it('lets a reader read but refuses it every start and operator route (SigV4 with its own role)', async () => {
    expect((await call('GET', '/workflows/order/runs/api-1', { credentials: reader })).status).toBe(200);
    for (const [method, path] of [
      ['POST', '/workflows/order/runs'],
      ['POST', '/workflows/order/runs/api-1/cancel'],
      ['POST', '/workflows/order/runs/api-1/rerun'],
      ['POST', '/workflows/order/runs/api-1/plugins/intake/pre/validate-order/skip'],
    ] as const) {
      const refused = await call(method, path, { body: { uid: 'r' }, credentials: reader });
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.headers.get('x-plugboard-reason')).toMatch(/execute-api:Invoke/);
    }
    expect(
      (await call('POST', '/workflows/order/runs', { body: { uid: 'op' }, credentials: operator })).status,
    ).toBe(403);
  });

  it('reports the latency of GET run over the local gateway (p50/p99, not asserted)', async () => {
    const times: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      const began = performance.now();
      expect((await call('GET', '/workflows/order/runs/api-1')).status).toBe(200);
      times.push(performance.now() - began);
    }
    times.sort((x, y) => x - y);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
    process.stdout.write(
      `GET /workflows/order/runs/{uid} over the local gateway (3 activities): p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms\n`,
    );
    expect(times).toHaveLength(30);
  });

  it('refuses unsigned requests (401) and bad signatures (403)', async () => {
    expect((await call('GET', '/health', { credentials: false })).status).toBe(401);
    const forged = await call('GET', '/health', {
      credentials: { accessKeyId: 'testing', secretAccessKey: 'not-the-secret' },
    });
    expect(forged.status).toBe(403);
  });
});

describe('JWT authorization of the local gateway', () => {
  const issuer = new LocalJwtIssuer('https://issuer.local');
  const settings = { issuer: 'https://issuer.local', audience: ['plugboard'] };

  it('accepts a token with the route scope and refuses one without it (403) or of another issuer (401)', () => {
    const read = issuer.token({ audience: 'plugboard', scopes: ['plugboard/read'] });
    expect(verifyJwt(`Bearer ${read}`, settings, [issuer.publicKey], ['plugboard/read']).ok).toBe(true);
    const refused = verifyJwt(`Bearer ${read}`, settings, [issuer.publicKey], ['plugboard/operate']);
    expect(refused).toMatchObject({ ok: false, status: 403 });
    const stranger = new LocalJwtIssuer('https://issuer.local');
    const forged = stranger.token({ audience: 'plugboard', scopes: ['plugboard/operate'] });
    expect(verifyJwt(`Bearer ${forged}`, settings, [issuer.publicKey], ['plugboard/operate'])).toMatchObject({
      ok: false,
      status: 401,
    });
  });
});
