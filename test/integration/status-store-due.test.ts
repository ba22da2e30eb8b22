/**
 * The sharded indexes and the `due` index of ADR 0010 through the real adapter on moto: listings that
 * merge every shard and the legacy partition, due runs oldest first per shard, the sweeper's
 * compare-and-set of `dueAt` (a duplicate is refused), `noteDeadline`, and the one-off move of a run
 * indexed before ADR 0010.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoStatusStore } from '../../lambdas/adapters/dynamo-status-store.js';
import {
  DUE_REVISIT_SECONDS,
  indexShard,
  RUN_SK,
  runPk,
  STATES,
  shardKey,
} from '../../lambdas/contracts/index.js';
import { at, fakeClock, runRecord, T0, WORKFLOW } from '../fixtures/status-records.js';
import { useMoto } from '../support/moto.js';
import { createStatusTable, rawItem } from '../support/status-table.js';

const moto = useMoto();

async function setup(indexShards = 4) {
  const table = await createStatusTable(moto.endpoint);
  const clock = fakeClock();
  const store = new DynamoStatusStore({
    tableName: table.tableName,
    client: table.documentClient,
    clock,
    indexShards,
  });
  return { table, clock, store };
}

/** A run item as the engine wrote it before ADR 0010: the bare workflow as its index value, no due time. */
async function putLegacyRun(
  table: Awaited<ReturnType<typeof setup>>['table'],
  uid: string,
  createdAt: string,
) {
  const run = runRecord(uid, {
    createdAt,
    updatedAt: createdAt,
    stateTimes: { [STATES.inProgress]: createdAt },
  });
  await table.documentClient.send(
    new PutCommand({
      TableName: table.tableName,
      Item: {
        ...run,
        pk: runPk(WORKFLOW, uid),
        sk: RUN_SK,
        activeWorkflow: WORKFLOW,
        activeSince: `${createdAt}#${uid}`,
        runsWorkflow: WORKFLOW,
        runsSort: `${createdAt}#${uid}`,
        expiresAt: 2_000_000_000,
      },
    }),
  );
}

describe('sharded listings', () => {
  it('spreads runs over the shards and lists them newest first across all shards and the legacy partition', async () => {
    const { table, store } = await setup(4);
    const uids = Array.from({ length: 12 }, (_, i) => `u-${i}`);
    for (const [i, uid] of uids.entries()) {
      const createdAt = at(i * 1000);
      await store.createRunIfAbsent(runRecord(uid, { createdAt, updatedAt: createdAt }));
    }
    await putLegacyRun(table, 'old-1', at(5500));

    const listed: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await store.listActiveRuns(WORKFLOW, { limit: 5, ...(nextToken ? { nextToken } : {}) });
      listed.push(...page.runs.map((r) => r.uid));
      nextToken = page.nextToken;
      pages += 1;
    } while (nextToken && pages < 10);

    const shards = new Set(uids.map((uid) => indexShard(uid, 4)));
    expect(shards.size).toBeGreaterThan(1);
    expect(listed).toEqual([
      'u-11',
      'u-10',
      'u-9',
      'u-8',
      'u-7',
      'u-6',
      'old-1',
      'u-5',
      'u-4',
      'u-3',
      'u-2',
      'u-1',
      'u-0',
    ]);
    expect(pages).toBe(3);
  });

  it('refuses a page token of another shard count, naming the cause', async () => {
    const { table, store } = await setup(4);
    for (const uid of ['a', 'b', 'c']) await store.createRunIfAbsent(runRecord(uid));
    const page = await store.listRuns(WORKFLOW, { limit: 1 });
    const other = new DynamoStatusStore({
      tableName: table.tableName,
      client: table.documentClient,
      indexShards: 8,
    });

    await expect(other.listRuns(WORKFLOW, { limit: 1, nextToken: page.nextToken })).rejects.toThrow(
      /shard count changed/,
    );
  });
});

describe('the due index', () => {
  it('lists due runs of a shard oldest first, up to the limit, and names the first one left', async () => {
    const { store } = await setup(1);
    for (const [i, uid] of ['a', 'b', 'c'].entries()) {
      const createdAt = at(i * 1000);
      await store.createRunIfAbsent(runRecord(uid, { createdAt, updatedAt: createdAt }));
    }

    const notYet = await store.listDueRuns(WORKFLOW, 0, {
      before: at(DUE_REVISIT_SECONDS * 1000 - 1),
      limit: 10,
    });
    const due = await store.listDueRuns(WORKFLOW, 0, {
      before: at(DUE_REVISIT_SECONDS * 1000 + 5000),
      limit: 2,
    });

    expect(notYet.runs).toEqual([]);
    expect(due.runs.map((r) => [r.uid, r.dueAt])).toEqual([
      ['a', at(DUE_REVISIT_SECONDS * 1000)],
      ['b', at(DUE_REVISIT_SECONDS * 1000 + 1000)],
    ]);
    expect(due.firstLeft).toBe(at(DUE_REVISIT_SECONDS * 1000 + 2000));
  });

  it('moves dueAt only from the value the sweeper saw: a duplicate or stale reschedule is refused', async () => {
    const { table, store } = await setup(1);
    await store.createRunIfAbsent(runRecord('a'));
    const [seen] = (await store.listDueRuns(WORKFLOW, 0, { before: at(3_600_000), limit: 1 })).runs;
    if (!seen) throw new Error('the run is not in the due index');

    const first = await store.rescheduleRun(seen, at(300_000));
    const duplicate = await store.rescheduleRun(seen, at(400_000));

    expect([first, duplicate]).toEqual([true, false]);
    expect((await rawItem(table, runPk(WORKFLOW, 'a'), RUN_SK))?.dueAt).toBe(at(300_000));
  });

  it('notes a deadline sooner than the revisit interval (once: a repeat changes nothing) and ignores later ones', async () => {
    const { table, store } = await setup(1);
    await store.createRunIfAbsent(runRecord('a'));
    const key = { workflow: WORKFLOW, uid: 'a' };

    await store.noteDeadline(key, at(600_000)); // later than the first due time: nothing to write
    const untouched = (await rawItem(table, runPk(WORKFLOW, 'a'), RUN_SK))?.dueAt;
    await store.noteDeadline(key, at(20_000));
    await store.noteDeadline(key, at(20_000));
    await store.noteDeadline(key, at(40_000)); // later than the noted one: kept
    const noted = (await rawItem(table, runPk(WORKFLOW, 'a'), RUN_SK))?.dueAt;

    expect(untouched).toBe(at(DUE_REVISIT_SECONDS * 1000));
    expect(noted).toBe(at(20_000));
  });

  it('takes a finished run out of the due index in the write that finishes it', async () => {
    const { table, store } = await setup(1);
    await store.createRunIfAbsent(runRecord('a'));
    await store.transitionRun({ workflow: WORKFLOW, uid: 'a' }, [STATES.inProgress], {
      state: STATES.complete,
    });

    const item = await rawItem(table, runPk(WORKFLOW, 'a'), RUN_SK);
    const due = await store.listDueRuns(WORKFLOW, 0, { before: at(3_600_000), limit: 10 });

    expect(item).not.toHaveProperty('dueAt');
    expect(due.runs).toEqual([]);
  });

  it('moves a run indexed before ADR 0010 into its shard once; a repeated move is refused', async () => {
    const { table, store } = await setup(4);
    await putLegacyRun(table, 'old-1', T0);
    const legacy = await store.listDueRuns(WORKFLOW, 4, { before: at(0), limit: 10 });
    const [seen] = legacy.runs;
    if (!seen) throw new Error('the legacy run is not listed');

    const moved = await store.rescheduleRun(seen, at(60_000));
    const again = await store.rescheduleRun(seen, at(90_000));
    const item = await rawItem(table, runPk(WORKFLOW, 'old-1'), RUN_SK);
    const shard = shardKey(WORKFLOW, indexShard('old-1', 4));
    const inShard = await store.listDueRuns(WORKFLOW, indexShard('old-1', 4), {
      before: at(60_000),
      limit: 10,
    });

    expect(seen).toMatchObject({ uid: 'old-1', legacy: true });
    expect([moved, again]).toEqual([true, false]);
    expect(item).toMatchObject({ activeWorkflow: shard, dueShard: shard, dueAt: at(60_000) });
    expect(inShard.runs.map((r) => r.uid)).toEqual(['old-1']);
    expect((await store.listDueRuns(WORKFLOW, 4, { before: at(0), limit: 10 })).runs).toEqual([]);
  });
});
