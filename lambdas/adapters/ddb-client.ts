/**
 * The DynamoDB Document client of the adapters: created once per Lambda container at module scope,
 * and injectable (tests pass a client pointed at moto).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Builds a Document client with the marshalling the status table relies on: optional record fields
 * that are `undefined` are left out (never stored as NULL), and numbers come back as plain numbers.
 * Region, credentials and endpoint come from the environment unless `config` sets them.
 */
export function createDocumentClient(config: DynamoDBClientConfig = {}): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

const sharedClient = createDocumentClient();

/** The module-scope client every adapter uses unless it is given one. */
export function defaultDocumentClient(): DynamoDBDocumentClient {
  return sharedClient;
}
