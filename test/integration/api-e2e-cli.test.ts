/**
 * `plugboard --api <url>` over real HTTP: the CLI (node bin/plugboard.js, a subprocess) talks only to
 * the local API gateway, its requests SigV4-signed with the credentials in its environment (the
 * operator's and the reader's roles, with the API stack's exported policies). Start, status (with the
 * history of a plugin that failed twice and then succeeded), list with paging, cancel, retry, skip,
 * rerun; the reader refused with a message naming the permission; problems shown as messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTreeSchema } from '../../lambdas/api/schemas.js';
import { LOCAL_CREDENTIALS } from '../../local/cloud.js';
import type { LocalCredentials } from '../../local/iam/registry.js';
import { useMoto } from '../support/moto.js';
import { type ApiWorld, startApiWorld } from './api-world.js';
import { type CliResult, json, runCli } from './cli-harness.js';

const moto = useMoto();
let world: ApiWorld;

function envOf(credentials: LocalCredentials): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...(credentials.sessionToken !== undefined ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
    AWS_REGION: 'us-east-1',
  };
}

/**
 * `plugboard --api <gateway> …` as `as` (default: the local cloud's admin keys, which may start), without
 * any local state or exports.
 */
function cli(args: readonly string[], as: LocalCredentials = LOCAL_CREDENTIALS): Promise<CliResult> {
  return runCli(['--api', world.gateway.url, ...args], envOf(as));
}

async function waitForState(uid: string, state: string, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    const result = await cli(['--json', 'status', 'order', uid]);
    if (result.code === 0) {
      last = runTreeSchema.parse(json(result)).state;
      if (last === state) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`run ${uid} did not reach ${state} (last: ${last})`);
}

beforeAll(async () => {
  world = await startApiWorld({ endpoint: moto.endpoint });
}, 600_000);

afterAll(async () => {
  await world?.close();
});

describe('plugboard --api over the local gateway', () => {
  it('starts a run (201), the same start again answers the run, other metadata is refused with the API detail', async () => {
    const started = await cli(['start', 'order', '--uid', 'cli-api-1', '--metadata', '{"customer":"c-1"}']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(/Started run order\/cli-api-1 \(generation 1\)/);
    expect(started.stdout).toContain(`--api ${world.gateway.url} watch order cli-api-1`);
    const again = await cli(['start', 'order', '--uid', 'cli-api-1', '--metadata', '{"customer":"c-1"}']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already exists/);
    const other = await cli(['start', 'order', '--uid', 'cli-api-1', '--metadata', '{"customer":"c-9"}']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/plugboard: 409 Conflict: .*different metadata/);
  });

  it('shows three attempts with their messages for a plugin that failed twice and then succeeded', async () => {
    const started = await cli([
      'start',
      'order',
      '--uid',
      'cli-api-flaky',
      '--metadata',
      '{"customer":"c-2","failStock":"twice"}',
    ]);
    expect(started.code, started.stderr).toBe(0);
    await waitForState('cli-api-flaky', 'Complete');
    // The API's own answer (GET /workflows/order/runs/cli-api-flaky), as --json prints it.
    const tree = runTreeSchema.parse(json(await cli(['--json', 'status', 'order', 'cli-api-flaky'])));
    const stock = tree.tree
      .flatMap((a) => a.stages.flatMap((s) => s.plugins))
      .find((p) => p.plugin === 'reserve-stock');
    expect(stock?.attempts.map((a) => [a.attempt, a.outcome])).toEqual([
      [1, 'Error'],
      [2, 'Error'],
      [3, 'Complete'],
    ]);
    expect(stock?.attempts[0]?.message).toMatch(/warehouse busy \(attempt 1\)/);
    expect(stock?.attempts[1]?.message).toMatch(/warehouse busy \(attempt 2\)/);
    // The same through the CLI's tree.
    const history = await cli(['status', 'order', 'cli-api-flaky', '--history']);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/reserve-stock\s+Complete\s+mandatory\s+attempt 3\/3/);
    expect(history.stdout).toMatch(/attempt 1:\s+Error.*warehouse busy \(attempt 1\)/);
    expect(history.stdout).toMatch(/attempt 2:\s+Error.*warehouse busy \(attempt 2\)/);
    expect(history.stdout).toMatch(/attempt 3:\s+Complete/);
  });

  it('lists runs page by page with --next-token (the API cursor)', async () => {
    for (const uid of ['cli-page-a', 'cli-page-b']) {
      expect((await cli(['start', 'order', '--uid', uid, '--metadata', `{"customer":"${uid}"}`])).code).toBe(
        0,
      );
    }
    const table = await cli(['list', '--workflow', 'order', '--limit', '2']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/WORKFLOW\s+UID\s+STATE/);
    expect(table.stdout).toMatch(
      /More: npx plugboard --api \S+ list --workflow order --limit 2 --next-token \S+/,
    );
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = json<{ runs: { uid: string }[]; nextToken?: string }>(
        await cli([
          '--json',
          'list',
          '--limit',
          '2',
          '--workflow',
          'order',
          ...(token ? ['--next-token', token] : []),
        ]),
      );
      expect(page.runs.length).toBeLessThanOrEqual(2);
      seen.push(...page.runs.map((r) => r.uid));
      token = page.nextToken;
      pages += 1;
    } while (token !== undefined && pages < 10);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(expect.arrayContaining(['cli-page-a', 'cli-page-b', 'cli-api-1']));
    expect(new Set(seen).size).toBe(seen.length);
    // Without --workflow, the workflows come from GET /workflows.
    const all = json<{ runs: { workflow: string }[] }>(await cli(['--json', 'list', '--limit', '5']));
    expect(all.runs.length).toBeGreaterThan(0);
    expect(all.runs.every((r) => r.workflow === 'order')).toBe(true);
    const stuck = await cli(['list', '--state', 'stuck']);
    expect(stuck.code).toBe(2);
    expect(stuck.stderr).toMatch(/not available through the API/);
  });

  it('cancels, retries, reruns and skips through the operator routes', async () => {
    expect(
      (
        await cli([
          'start',
          'order',
          '--uid',
          'cli-api-hang',
          '--metadata',
          '{"customer":"c","hangCourier":true}',
        ])
      ).code,
    ).toBe(0);
    const skip = await cli(
      ['skip', 'order', 'cli-api-hang', 'fulfilment', 'parallel', 'no-such-plugin'],
      world.operator,
    );
    expect(skip.code).toBe(1);
    expect(skip.stderr).toMatch(
      /409 Conflict: Plugin "no-such-plugin" is not registered for fulfilment\/parallel; the registered ones are/,
    );
    const busy = await cli(['start', 'order', '--uid', 'cli-api-hang', '--rerun'], world.operator);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(
      /409 Conflict: Run "cli-api-hang" is In Progress; only a finished run can be rerun/,
    );
    const cancelled = await cli(
      ['cancel', 'order', 'cli-api-hang', '--reason', 'duplicate order'],
      world.operator,
    );
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout).toMatch(/Cancelled order\/cli-api-hang: duplicate order/);

    expect(
      (
        await cli([
          'start',
          'order',
          '--uid',
          'cli-api-fail',
          '--metadata',
          '{"customer":"c","failPayment":"always"}',
        ])
      ).code,
    ).toBe(0);
    await waitForState('cli-api-fail', 'Error');
    const retried = await cli(['retry', 'order', 'cli-api-fail'], world.operator);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.stdout).toMatch(/Rerunning order\/cli-api-fail \(generation 2\)/);
    await waitForState('cli-api-fail', 'Error');
    const rerun = await cli(['--json', 'start', 'order', '--uid', 'cli-api-fail', '--rerun'], world.operator);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(json<{ outcome: string; run: { generation: number } }>(rerun)).toMatchObject({
      outcome: 'rerun',
      run: { generation: 3 },
    });
  });

  it('lets a reader read and refuses it the operator routes with a message naming the permission', async () => {
    const read = await cli(['status', 'order', 'cli-api-1'], world.reader);
    expect(read.code, read.stderr).toBe(0);
    expect(read.stdout).toMatch(/order \/ cli-api-1/);
    const refused = await cli(['cancel', 'order', 'cli-api-1'], world.reader);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /The API refused POST \/workflows\/order\/runs\/cli-api-1\/cancel \(403 Forbidden/,
    );
    expect(refused.stderr).toMatch(/is not authorized to perform: execute-api:Invoke/);
    expect(refused.stderr).toMatch(
      /needs the "operate" permission: attach the managed policy exported as <system>-<stage>-api-operate-policy-arn/,
    );
    const start = await runCli(
      ['--api', world.gateway.url, '--stage', 'local', 'start', 'order', '--uid', 'cli-reader'],
      envOf(world.operator),
    );
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(
      /needs the "start" permission: attach the managed policy exported as plugboard-local-api-start-policy-arn/,
    );
  });

  it('answers problems, wrong credentials, an unreachable API and commands without an API path clearly', async () => {
    const unknownRun = await cli(['status', 'order', 'never-started']);
    expect(unknownRun.code).toBe(1);
    expect(unknownRun.stderr).toMatch(/No run "never-started" of workflow "order"/);
    const unknownWorkflow = await cli(['status', 'refund', 'x']);
    expect(unknownWorkflow.code).toBe(1);
    expect(unknownWorkflow.stderr).toMatch(/Known workflows: order/);
    const forged = await runCli(['--api', world.gateway.url, 'status', 'order', 'cli-api-1'], {
      AWS_ACCESS_KEY_ID: world.reader.accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'not-the-secret',
      ...(world.reader.sessionToken ? { AWS_SESSION_TOKEN: world.reader.sessionToken } : {}),
      AWS_REGION: 'us-east-1',
    });
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/403 Forbidden.*signature/i);
    const down = await runCli(['--api', 'http://127.0.0.1:9', 'status', 'order', 'x'], envOf(world.operator));
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/Cannot reach the API at http:\/\/127\.0\.0\.1:9/);
    const plugins = await runCli(['plugins'], {
      ...envOf(world.operator),
      PLUGBOARD_API_URL: world.gateway.url,
    });
    expect(plugins.code).toBe(2);
    expect(plugins.stderr).toMatch(/`plugins` does not go through the HTTP API/);
    const badUrl = await runCli(['--api', 'not a url', 'status', 'order', 'x'], envOf(world.operator));
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/is not a URL/);
  });
});
