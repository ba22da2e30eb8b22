import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE_LAYOUT } from '../contracts/index.js';
import type { StatusItemStore } from './ports.js';

/**
 * The default {@link StatusItemStore}: DynamoDB `GetItem` and `Query` (read-only) with the given client.
 *
 * @example
 * ```ts
 * const reader = createStatusReader({ store: dynamoDbStatusStore(new DynamoDBClient({ region: 'eu-west-1' })) });
 * ```
 */
export function dynamoDbStatusStore(client: DynamoDBClient = new DynamoDBClient({})): StatusItemStore {
  const documents = DynamoDBDocumentClient.from(client);
  const pk = TABLE_LAYOUT.partitionKey;
  const sk = TABLE_LAYOUT.sortKey;
  return {
    async getItem({ tableName, key, consistentRead }) {
      const output = await documents.send(
        new GetCommand({
          TableName: tableName,
          Key: { [pk]: key.pk, [sk]: key.sk },
          ConsistentRead: consistentRead,
        }),
      );
      return output.Item;
    },
    async query({ tableName, pk: partition, skPrefix, consistentRead }) {
      const items: Record<string, unknown>[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const page = await documents.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ExpressionAttributeNames: { '#pk': pk, '#sk': sk },
            ExpressionAttributeValues: { ':pk': partition, ':prefix': skPrefix },
            ConsistentRead: consistentRead,
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...(page.Items ?? []));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
      return items;
    },
  };
}
