/**
 * What grows in moto over a long session, measured in isolation: one table with `--items` items (the
 * size of a status table after some runs), then `--transactions` two-item `TransactWriteItems`, with
 * moto's resident memory before and after, for moto as installed (`moto_server`) and for the local
 * cloud's default launcher (local/scripts/moto-server-untracked) side by side.
 *
 *     npx tsx local/scripts/transaction-memory.ts --items 500 --transactions 300
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { startCloud, UNTRACKED_MOTO_COMMAND } from '../cloud.js';

function rssMb(pid: number | undefined): number {
  const text = pid === undefined ? '' : readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? Number.NaN) / 1024;
}

async function measure(command: string, items: number, transactions: number) {
  const cloud = await startCloud({ env: {}, command, handleSignals: true });
  const dynamodb = new DynamoDBClient(cloud.clientConfig());
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: 'probe',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    const padding = 'x'.repeat(400); // a status item carries a few hundred bytes
    for (let i = 0; i < items; i += 25) {
      const requests = Array.from({ length: Math.min(25, items - i) }, (_, j) => ({
        PutRequest: { Item: { pk: { S: `run#${i + j}` }, sk: { S: 'item' }, body: { S: padding } } },
      }));
      await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { probe: requests } }));
    }
    const before = rssMb(cloud.pid);
    const started = performance.now();
    for (let t = 0; t < transactions; t += 1) {
      await dynamodb.send(
        new TransactWriteItemsCommand({
          TransactItems: [0, 1].map((k) => ({
            Update: {
              TableName: 'probe',
              Key: { pk: { S: `run#${(t * 2 + k) % items}` }, sk: { S: 'item' } },
              UpdateExpression: 'SET n = :n',
              ExpressionAttributeValues: { ':n': { N: String(t) } },
            },
          })),
        }),
      );
    }
    return { before, after: rssMb(cloud.pid), ms: performance.now() - started };
  } finally {
    dynamodb.destroy();
    await cloud.stop();
  }
}

const { values } = parseArgs({
  options: { items: { type: 'string', default: '500' }, transactions: { type: 'string', default: '300' } },
});
const items = Number(values.items);
const transactions = Number(values.transactions);
if (!(Number.isInteger(items) && items > 1 && Number.isInteger(transactions) && transactions > 0)) {
  process.stderr.write('--items must be an integer > 1 and --transactions an integer > 0\n');
  process.exit(2);
}
for (const [label, command] of [
  ['moto_server (as installed)', 'moto_server'],
  ['moto-server-untracked', UNTRACKED_MOTO_COMMAND],
] as const) {
  const { before, after, ms } = await measure(command, items, transactions);
  process.stdout.write(
    `${label.padEnd(28)} ${items} items, ${transactions} transactions: RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB (+${(after - before).toFixed(0)} MB), ${(ms / transactions).toFixed(1)} ms per transaction\n`,
  );
}
