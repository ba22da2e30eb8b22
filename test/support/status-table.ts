/**
 * Test fixture: creates the status table on a moto endpoint the way the core stack's table construct
 * does (TABLE_LAYOUT keys, the sparse `active` and `runs` GSIs projecting every attribute, on-demand
 * billing, TTL on `expiresAt`). Every call makes a new table with a unique name, so tests sharing a
 * moto server never see each other's items.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  GetItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { createDocumentClient } from '../../lambdas/adapters/ddb-client.js';
import { TABLE_LAYOUT } from '../../lambdas/contracts/index.js';
import { motoClientConfig } from './moto.js';

export interface StatusTable {
  readonly tableName: string;
  /** A low-level client on the moto endpoint (for raw reads in assertions). */
  readonly client: DynamoDBClient;
  /** A Document client with the adapters' marshalling, to pass to the stores. */
  readonly documentClient: DynamoDBDocumentClient;
}

/** The CreateTable request of the status table (what the CDK construct declares). */
export function statusTableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, activeIndex, runsIndex } = TABLE_LAYOUT;
  const attributes = [
    partitionKey,
    sortKey,
    activeIndex.partitionKey,
    activeIndex.sortKey,
    runsIndex.partitionKey,
    runsIndex.sortKey,
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: attributes.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [activeIndex, runsIndex].map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: index.projection },
    })),
  };
}

/** Creates a fresh status table on `endpoint` and returns its name and clients. */
export async function createStatusTable(
  endpoint: string,
  options: { readonly prefix?: string } = {},
): Promise<StatusTable> {
  const tableName = `${options.prefix ?? 'plugboard-status'}-${randomUUID().slice(0, 8)}`;
  const config = motoClientConfig(endpoint);
  const client = new DynamoDBClient(config);
  await client.send(new CreateTableCommand(statusTableDefinition(tableName)));
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: TABLE_LAYOUT.ttlAttribute, Enabled: true },
    }),
  );
  return { tableName, client, documentClient: createDocumentClient(config) };
}

/** The raw item at (pk, sk), internal attributes included, read consistently. */
export async function rawItem(
  table: StatusTable,
  pk: string,
  sk: string,
): Promise<Record<string, unknown> | undefined> {
  const output = await table.client.send(
    new GetItemCommand({
      TableName: table.tableName,
      Key: { [TABLE_LAYOUT.partitionKey]: { S: pk }, [TABLE_LAYOUT.sortKey]: { S: sk } },
      ConsistentRead: true,
    }),
  );
  return output.Item && unmarshall(output.Item);
}

/**
 * Counts the requests of one low-level command (e.g. `QueryCommand`, `TransactWriteItemsCommand`)
 * that a client sends from now on.
 */
export function countRequests(
  client: DynamoDBDocumentClient,
  commandName: string,
): { readonly count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName) counter.count += 1;
      return next(args);
    },
    { step: 'initialize', name: `count-${commandName}` },
  );
  return counter;
}

/**
 * Lets one request of this client be on the wire at a time; concurrent callers still interleave
 * between requests. Use it for concurrency tests on moto: moto 5.2.1 runs TransactWriteItems without
 * isolation (it snapshots the table, and restores the snapshot when a transaction is cancelled), so
 * concurrent transactions lose each other's writes there, while DynamoDB isolates every request.
 */
export function serializeRequests(client: DynamoDBDocumentClient): void {
  let tail: Promise<unknown> = Promise.resolve();
  client.middlewareStack.add(
    (next) => async (args) => {
      const sent = tail.then(() => next(args));
      tail = sent.catch(() => undefined);
      return sent;
    },
    { step: 'finalizeRequest', name: 'serialize-requests' },
  );
}
