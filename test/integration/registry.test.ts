/**
 * The DynamoDB plugin registry against moto: put, replace, list (paginated), remove.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRegistry } from '../../lambdas/adapters/dynamo-registry.js';
import { CorruptItemError, InvalidStoreRequestError } from '../../lambdas/adapters/errors.js';
import { type Registration, registrationPk, registrationSchema } from '../../lambdas/contracts/index.js';
import { useMoto } from '../support/moto.js';
import { countRequests, createStatusTable, rawItem } from '../support/status-table.js';

const moto = useMoto();

async function setup() {
  const table = await createStatusTable(moto.endpoint);
  const registry = new DynamoRegistry({ tableName: table.tableName, client: table.documentClient });
  return { table, registry };
}

function registration(
  name: string,
  overrides: {
    activity?: string;
    stage?: Registration['stage'];
    mandatory?: boolean;
    description?: string;
  } = {},
  extra: Partial<Pick<Registration, 'filterPolicy' | 'functionArn'>> = {},
): Registration {
  return registrationSchema.parse({
    activity: overrides.activity ?? 'check',
    stage: overrides.stage ?? 'parallel',
    info: {
      name,
      default: { mandatory: overrides.mandatory ?? true },
      ...(overrides.description ? { description: overrides.description } : {}),
    },
    ...extra,
  });
}

describe('DynamoRegistry', () => {
  it('returns what was put, with the schema defaults, under the registration key', async () => {
    const { registry, table } = await setup();
    const fraud = registration(
      'fraud-check',
      {},
      {
        filterPolicy: { country: ['DE', 'FR'] },
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fraud',
      },
    );

    await registry.put(fraud);
    const listed = await registry.list('check', 'parallel');

    expect(listed).toEqual([fraud]);
    expect(listed[0]?.info).toMatchObject({ order: 90, idempotent: true, overrides: {} });
    expect(await rawItem(table, registrationPk('check', 'parallel'), 'fraud-check')).not.toHaveProperty(
      'expiresAt',
    );
  });

  it('replaces the registration of a plugin that registers again', async () => {
    const { registry } = await setup();
    await registry.put(registration('fraud-check', { mandatory: true, description: 'v1' }));

    await registry.put(registration('fraud-check', { mandatory: false, description: 'v2' }));
    const listed = await registry.list('check', 'parallel');

    expect(listed).toHaveLength(1);
    expect(listed[0]?.info).toMatchObject({ default: { mandatory: false }, description: 'v2' });
  });

  it('lists only the registrations of the asked activity stage, in name order', async () => {
    const { registry } = await setup();
    await registry.put(registration('b-plugin'));
    await registry.put(registration('a-plugin'));
    await registry.put(registration('pre-plugin', { stage: 'pre' }));
    await registry.put(registration('ship-plugin', { activity: 'ship' }));

    const listed = await registry.list('check', 'parallel');

    expect(listed.map((r) => r.info.name)).toEqual(['a-plugin', 'b-plugin']);
    expect(await registry.list('check', 'post')).toEqual([]);
  });

  it('removes a registration, and removing an absent one is not an error', async () => {
    const { registry } = await setup();
    await registry.put(registration('a-plugin'));
    await registry.put(registration('b-plugin'));

    await registry.remove('check', 'parallel', 'a-plugin');
    await registry.remove('check', 'parallel', 'never-registered');

    expect((await registry.list('check', 'parallel')).map((r) => r.info.name)).toEqual(['b-plugin']);
  });

  it('lists every registration when they span several query pages', async () => {
    const { registry, table } = await setup();
    // ~60 KB per registration: 25 of them are 1.5 MB, beyond DynamoDB's 1 MB page.
    const filterPolicy = { region: [`eu-${'x'.repeat(60_000)}`] };
    const names = Array.from({ length: 25 }, (_, i) => `plugin-${String(i).padStart(2, '0')}`);
    for (const name of names) await registry.put(registration(name, {}, { filterPolicy }));
    const queries = countRequests(table.documentClient, 'QueryCommand');

    const listed = await registry.list('check', 'parallel');

    expect(queries.count).toBeGreaterThanOrEqual(2);
    expect(listed.map((r) => r.info.name)).toEqual(names);
    expect(listed[24]?.filterPolicy).toEqual(filterPolicy);
  });

  it('refuses to store an invalid registration, naming the field', async () => {
    const { registry } = await setup();
    const invalid: Registration = { ...registration('ok'), activity: 'Not Valid' };

    const put = registry.put(invalid);

    await expect(put).rejects.toBeInstanceOf(InvalidStoreRequestError);
    await expect(put).rejects.toThrow(/activity: must be lower-case/);
    expect(await registry.list('check', 'parallel')).toEqual([]);
  });

  it('throws CorruptItemError naming the item when a stored registration is invalid', async () => {
    const { registry, table } = await setup();
    await table.client.send(
      new PutItemCommand({
        TableName: table.tableName,
        Item: {
          pk: { S: registrationPk('check', 'parallel') },
          sk: { S: 'broken' },
          activity: { S: 'check' },
          stage: { S: 'parallel' },
        },
      }),
    );

    const list = registry.list('check', 'parallel');

    await expect(list).rejects.toBeInstanceOf(CorruptItemError);
    await expect(list).rejects.toThrow(/pk "REG#check#parallel", sk "broken".*info/);
  });
});
