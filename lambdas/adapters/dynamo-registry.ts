/**
 * The plugin registry in the status table: one item per plugin and activity stage, at
 * pk `REG#<activity>#<stage>`, sk `<plugin>`. Registrations never expire (no `expiresAt`).
 */
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  describeIssues,
  type Registration,
  registrationPk,
  registrationSchema,
  type StageName,
  TABLE_LAYOUT,
} from '../contracts/index.js';
import type { Registry } from '../engine/ports.js';
import { defaultDocumentClient } from './ddb-client.js';
import { CorruptItemError, InvalidStoreRequestError } from './errors.js';

export interface DynamoRegistryOptions {
  /** The status table, which also holds the registry. */
  readonly tableName: string;
  /** @default - the module-scope client of `ddb-client.ts` */
  readonly client?: DynamoDBDocumentClient;
}

const PK = TABLE_LAYOUT.partitionKey;
const SK = TABLE_LAYOUT.sortKey;

export class DynamoRegistry implements Registry {
  private readonly tableName: string;
  private readonly client: DynamoDBDocumentClient;

  constructor(options: DynamoRegistryOptions) {
    if (!options.tableName)
      throw new InvalidStoreRequestError('DynamoRegistry: tableName must not be empty.');
    this.tableName = options.tableName;
    this.client = options.client ?? defaultDocumentClient();
  }

  /** Stores the registration, replacing an earlier one of the same plugin in the same stage. */
  async put(registration: Registration): Promise<void> {
    const parsed = registrationSchema.safeParse(registration);
    if (!parsed.success) {
      throw new InvalidStoreRequestError(`Invalid registration: ${describeIssues(parsed.error)}`);
    }
    const valid = parsed.data;
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...valid,
          [PK]: registrationPk(valid.activity, valid.stage),
          [SK]: valid.info.name,
        },
      }),
    );
  }

  /** Removes the registration; removing one that does not exist is not an error. */
  async remove(activity: string, stage: StageName, plugin: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [PK]: registrationPk(activity, stage), [SK]: plugin },
      }),
    );
  }

  /** Every registration of one activity stage, in plugin-name order (strongly consistent). */
  async list(activity: string, stage: StageName): Promise<readonly Registration[]> {
    const pk = registrationPk(activity, stage);
    const registrations: Registration[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const output = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK },
          ExpressionAttributeValues: { ':pk': pk },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of output.Items ?? []) registrations.push(toRegistration(item));
      startKey = output.LastEvaluatedKey;
    } while (startKey);
    return registrations;
  }
}

function toRegistration(item: Record<string, unknown>): Registration {
  const { [PK]: pk, [SK]: sk, ...fields } = item;
  const parsed = registrationSchema.safeParse(fields);
  if (!parsed.success) {
    throw new CorruptItemError(
      String(pk),
      String(sk),
      `not a valid registration: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data;
}
