/**
 * The plugin registry in the status table: one item per plugin and activity stage, at
 * pk `REG#<activity>#<stage>`, sk `<plugin>`. Registrations never expire (no `expiresAt`).
 *
 * A registration with an `owner` (the stack that created it) is written and removed under a
 * condition on that owner, so another stack can neither take over a plugin name nor delete it
 * (ARCHITECTURE §9). The condition is the only guard: two stacks racing for a free name get one
 * winner, and a re-delivered request of the owner rewrites the same item.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
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
import { CorruptItemError, InvalidStoreRequestError, StoreError } from './errors.js';

/** Another stack owns the (activity, stage, plugin) a stack tried to register: nothing was written. */
export class RegistrationTakenError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly activity: string,
    readonly stage: StageName,
    readonly plugin: string,
    /** The owner stack's id, as stored. */
    readonly owner: string,
  ) {
    super(
      `Plugin "${plugin}" is already registered in ${activity}/${stage} by stack ${owner}. A registration belongs to the stack that created it: choose another plugin name, or remove the plugin from that stack first.`,
    );
  }
}

/** What a conditional remove did. */
export type RemoveOutcome =
  | { readonly removed: true }
  /** Another stack owns the registration; it was left in place. */
  | { readonly removed: false; readonly owner: string };

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

  /**
   * Stores the registration, replacing an earlier one of the same plugin in the same stage. With an
   * `owner`, only when the stored one has the same owner or none (one made before owners existed is
   * claimed by the first stack that updates it); otherwise throws {@link RegistrationTakenError}.
   */
  async put(registration: Registration): Promise<void> {
    const parsed = registrationSchema.safeParse(registration);
    if (!parsed.success) {
      throw new InvalidStoreRequestError(`Invalid registration: ${describeIssues(parsed.error)}`);
    }
    const valid = parsed.data;
    const owner = valid.owner;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...valid,
            [PK]: registrationPk(valid.activity, valid.stage),
            [SK]: valid.info.name,
          },
          ...(owner === undefined
            ? {}
            : {
                ConditionExpression:
                  'attribute_not_exists(#pk) OR attribute_not_exists(#owner) OR #owner = :owner',
                ExpressionAttributeNames: { '#pk': PK, '#owner': 'owner' },
                ExpressionAttributeValues: { ':owner': owner },
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              }),
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw new RegistrationTakenError(
        valid.activity,
        valid.stage,
        valid.info.name,
        ownerOf(error.Item) ?? (await this.ownerOf(valid.activity, valid.stage, valid.info.name)),
      );
    }
  }

  /** Removes the registration, whoever owns it; removing one that does not exist is not an error. */
  async remove(activity: string, stage: StageName, plugin: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [PK]: registrationPk(activity, stage), [SK]: plugin },
      }),
    );
  }

  /**
   * Removes the registration if `owner` holds it (or nobody does: one made before owners existed);
   * another stack's stays, and the outcome says whose it is. Removing one that does not exist is not an error.
   */
  async removeOwned(
    activity: string,
    stage: StageName,
    plugin: string,
    owner: string,
  ): Promise<RemoveOutcome> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [PK]: registrationPk(activity, stage), [SK]: plugin },
          ConditionExpression: 'attribute_not_exists(#owner) OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { removed: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { removed: false, owner: ownerOf(error.Item) ?? (await this.ownerOf(activity, stage, plugin)) };
    }
  }

  /** The stored owner, for a refusal's message when the condition failure did not return the item. */
  private async ownerOf(activity: string, stage: StageName, plugin: string): Promise<string> {
    const output = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { [PK]: registrationPk(activity, stage), [SK]: plugin },
        ProjectionExpression: '#owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ConsistentRead: true,
      }),
    );
    const owner: unknown = output.Item?.owner;
    return typeof owner === 'string' ? owner : 'another stack';
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

/** The `owner` of an item returned by a failed condition (marshalled, as the low-level client gives it). */
function ownerOf(
  item: Record<string, { S?: string | undefined } | undefined> | undefined,
): string | undefined {
  const owner = item?.owner;
  return typeof owner?.S === 'string' ? owner.S : undefined;
}
