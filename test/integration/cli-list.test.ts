/** `plugboard list | plugins | events tail` against runs and registrations on a private moto. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SnsEventPublisher } from '../../lambdas/adapters/sns-event-publisher.js';
import { cancelRun } from '../../lambdas/engine/operator.js';
import { useMoto } from '../support/moto.js';
import {
  type CliWorld,
  createCliWorld,
  eventsTopicArnOf,
  json,
  outputOf,
  WORKFLOW,
  waitForOutput,
} from './cli-harness.js';

const moto = useMoto();
let world: CliWorld;
/** Every CLI call starts a Node.js process: seconds each on a loaded machine. */
const CLI_TIMEOUT = { timeout: 120_000 } as const;

interface Listed {
  runs: { uid: string; state: string; liveness?: string }[];
  nextToken?: string;
}

beforeAll(async () => {
  world = await createCliWorld(moto.endpoint);
  const o = world.orchestra;
  // Created in this order (newest last): two complete, one failed, one hanging.
  for (const [uid, metadata] of [
    ['list-1', {}],
    ['list-2', {}],
    ['list-3', { fail: true }],
    ['list-4', { hang: true }],
  ] as const) {
    await o.start({ workflow: WORKFLOW, uid, metadata });
    await new Promise((r) => setTimeout(r, 15));
  }
  for (let round = 0; round < 40; round += 1) {
    if ((await o.pump()) === 0 && !(await o.anythingInFlight())) break;
  }
}, 120_000);
afterAll(async () => {
  await world?.close();
});

describe('plugboard list', CLI_TIMEOUT, () => {
  it('lists every run newest first in aligned columns', async () => {
    const result = await world.cli(['list', '--workflow', WORKFLOW]);

    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trim().split('\n');
    expect(header).toMatch(
      /^WORKFLOW +UID +STATE +GEN +CREATED \(UTC\) +DURATION +POSITION +LIVENESS +MESSAGE$/,
    );
    expect(rows.map((r) => r.split(/\s{2,}/)[1])).toEqual(['list-4', 'list-3', 'list-2', 'list-1']);
    expect(rows[0]).toMatch(/In Progress +1 .* intake\/parallel +progressing/);
    expect(rows[1]).toContain('Error');
    expect(header?.indexOf('STATE')).toBe(rows[0]?.indexOf('In Progress'));
  });

  it('filters by state through the indexes, as JSON', async () => {
    const [failed, complete, active, stuck] = await Promise.all(
      ['failed', 'complete', 'active', 'stuck'].map((state) =>
        world.cli(['list', '--workflow', WORKFLOW, '--state', state, '--json']),
      ),
    );

    expect(json<Listed>(failed ?? { code: -1, stdout: '', stderr: '' }).runs.map((r) => r.uid)).toEqual([
      'list-3',
    ]);
    expect(json<Listed>(complete ?? { code: -1, stdout: '', stderr: '' }).runs.map((r) => r.uid)).toEqual([
      'list-2',
      'list-1',
    ]);
    const activeRuns = json<Listed>(active ?? { code: -1, stdout: '', stderr: '' }).runs;
    expect(activeRuns.map((r) => [r.uid, r.liveness])).toEqual([['list-4', 'progressing']]);
    expect(json<Listed>(stuck ?? { code: -1, stdout: '', stderr: '' }).runs).toEqual([]);
  });

  it('pages with --limit and --next-token', async () => {
    const first = json<Listed>(await world.cli(['list', '--workflow', WORKFLOW, '--limit', '3', '--json']));
    const second = json<Listed>(
      await world.cli([
        'list',
        '--workflow',
        WORKFLOW,
        '--limit',
        '3',
        '--next-token',
        first.nextToken ?? '',
        '--json',
      ]),
    );

    expect(first.runs.map((r) => r.uid)).toEqual(['list-4', 'list-3', 'list-2']);
    expect(first.nextToken).toEqual(expect.any(String));
    expect(second.runs.map((r) => r.uid)).toEqual(['list-1']);
    expect(second.nextToken).toBeUndefined();
  });

  it('prints the command for the next page, and honours --since', async () => {
    const [paged, recent] = await Promise.all([
      world.cli(['list', '--workflow', WORKFLOW, '--limit', '1']),
      world.cli(['list', '--workflow', WORKFLOW, '--since', '1h', '--json']),
    ]);

    expect(paged.stdout).toMatch(
      /More: npx plugboard --local list --workflow order --limit 1 --next-token \S+/,
    );
    expect(json<Listed>(recent).runs).toHaveLength(4);
    const future = await world.cli(['list', '--workflow', WORKFLOW, '--since', '2999-01-01T00:00:00Z']);
    expect(future.stdout).toContain('No runs since 2999-01-01 00:00:00 UTC in order.');
  });

  it('reads the workflows of plugboard.config.ts when --workflow is omitted', async () => {
    const result = await world.cli(['list', '--state', 'failed', '--json']);

    expect(result.code).toBe(0);
    expect(json<Listed>(result).runs.map((r) => r.uid)).toEqual(['list-3']);
  });
});

describe('plugboard plugins', CLI_TIMEOUT, () => {
  it('shows the registry per activity stage, with mandatory honouring overrides, deadline, attempts and filter', async () => {
    const result = await world.cli(['plugins']);

    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^ACTIVITY +STAGE +ORDER +PLUGIN +MANDATORY +DEADLINE +ATTEMPTS +LAST SEEN +LIVENESS +FILTER$/,
    );
    const row = (name: string) => lines.find((l) => l.includes(` ${name} `)) ?? '';
    // LAST SEEN and LIVENESS: see cli-plugins-health.test.ts.
    expect(row('validate')).toMatch(
      /^intake +pre +10 +validate +mandatory +default +default +(-|\S.* ago) +(live|inactive|offline|idle) +-$/,
    );
    expect(row('enrich')).toMatch(/enrich +optional/);
    expect(row('score')).toMatch(/score +mandatory +120s +2 /);
    expect(row('send-sms')).toMatch(
      /^fulfilment +post +90 +send-sms +optional +default +default +(-|\S.* ago) +(live|inactive|offline|idle) +\{"channel":\["web","app"\]\}$/,
    );
    expect(lines.map((l) => l.split(/\s+/)[0]).slice(1)).toEqual([
      'fulfilment',
      'fulfilment',
      'intake',
      'intake',
      'intake',
      'intake',
    ]);
  });

  it('narrows to one activity and stage, as JSON', async () => {
    const result = await world.cli(['plugins', '--activity', 'intake', '--stage-name', 'parallel', '--json']);

    const { plugins } = json<{ plugins: { plugin: string; mandatory: boolean }[] }>(result);
    expect(plugins.map((p) => [p.plugin, p.mandatory])).toEqual([
      ['enrich', false],
      ['score', true],
      ['slow', true],
    ]);
  });
});

describe('plugboard events tail', CLI_TIMEOUT, () => {
  it('prints lifecycle events while it runs and deletes its queue when it stops', async () => {
    const following = waitForOutput((text) => text.includes('Following '));
    const tail = world.cli(['events', 'tail', '--for', '10s'], { onStderr: following.feed, env: {} });
    // The CLI says it follows the topic once its queue is subscribed (the queue exists a few
    // requests earlier): only then can an event reach it. Its --for time starts there too.
    await outputOf(following, tail, 'it followed the events topic');
    await waitForTailQueue(true);

    // The cancel command's own code, in this process: a CLI subprocess would take seconds to start.
    const o = world.orchestra;
    await cancelRun(
      {
        store: o.store,
        events: new SnsEventPublisher(eventsTopicArnOf(o), o.sns),
        clock: { now: () => new Date() },
      },
      { workflow: WORKFLOW, uid: 'list-4' },
      'tail test',
    );
    const result = await tail;

    expect(result.code).toBe(0);
    expect(result.stderr).toContain('Following arn:aws:sns:');
    expect(result.stdout).toMatch(/^\d\d:\d\d:\d\d {2}run\.cancelled +order\/list-4 g1 {2}.*tail test$/m);
    await waitForTailQueue(false);
  });
});

async function waitForTailQueue(present: boolean): Promise<void> {
  const { ListQueuesCommand } = await import('@aws-sdk/client-sqs');
  for (let i = 0; i < 100; i += 1) {
    const queues = await world.orchestra.sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: 'plugboard-dev-cli-tail-' }),
    );
    if ((queues.QueueUrls ?? []).length > 0 === present) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the tail queue is ${present ? 'missing' : 'still there'}`);
}
