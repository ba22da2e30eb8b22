/**
 * A registration belongs to the stack that created it: the registrar with the DynamoDB registry on
 * moto, driven by the custom resource events of two stacks. Another stack cannot take over, change
 * or delete a registration; the owner's re-delivered requests are idempotent.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DynamoRegistry } from '../../lambdas/adapters/dynamo-registry.js';
import { createObservability } from '../../lambdas/handlers/observability.js';
import { type CloudFormationResponse, createRegistrarHandler } from '../../lambdas/handlers/registrar.js';
import { useMoto } from '../support/moto.js';
import { createStatusTable } from '../support/status-table.js';

const moto = useMoto();

const STACK_A = 'arn:aws:cloudformation:us-east-1:123456789012:stack/payments-plugins/aaaa-1111';
const STACK_B = 'arn:aws:cloudformation:us-east-1:123456789012:stack/other-team-plugins/bbbb-2222';
const ROLE_A = 'AROAPAYMENTSROLE00001';
const ROLE_B = 'AROAOTHERTEAMROLE0002';
const PHYSICAL_ID = 'plugboard-registration:checkout:parallel:charge-payment';

async function setUp() {
  const table = await createStatusTable(moto.endpoint);
  const registry = new DynamoRegistry({ tableName: table.tableName, client: table.documentClient });
  const responses: CloudFormationResponse[] = [];
  const handler = createRegistrarHandler({
    registry,
    initializer: {
      initialize: async () => {
        throw new Error('not called: registrations are given inline');
      },
    },
    knownActivities: ['checkout'],
    observability: createObservability('registrar-ownership-test', 'test'),
    respond: async (_url, body) => {
      responses.push(body);
    },
  });
  return { registry, responses, handler };
}

function properties(mandatory: boolean, principal: string) {
  return {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:registrar',
    Activity: 'checkout',
    Stage: 'parallel',
    Principals: [principal],
    Registration: JSON.stringify({
      activity: 'checkout',
      stage: 'parallel',
      info: { name: 'charge-payment', default: { mandatory } },
    }),
  };
}

let requests = 0;
function event(
  requestType: 'Create' | 'Update' | 'Delete',
  stackId: string,
  props: Record<string, unknown>,
  physicalId = PHYSICAL_ID,
): CloudFormationCustomResourceEvent {
  requests += 1;
  const base = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:registrar',
    ResponseURL: 'https://example.invalid/response',
    StackId: stackId,
    RequestId: `req-${requests}`,
    LogicalResourceId: 'ChargePaymentRegistration',
    ResourceType: 'Custom::PlugboardPluginRegistration',
    ResourceProperties: { ServiceToken: 'x', ...props },
  };
  if (requestType === 'Create') return { ...base, RequestType: 'Create' };
  if (requestType === 'Update') {
    return {
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: physicalId,
      OldResourceProperties: { ServiceToken: 'x', ...props },
    };
  }
  return { ...base, RequestType: 'Delete', PhysicalResourceId: physicalId };
}

async function stored(registry: DynamoRegistry) {
  return (await registry.list('checkout', 'parallel')).find((r) => r.info.name === 'charge-payment');
}

describe('registration ownership (two stacks, DynamoDB on moto)', () => {
  it('records the creating stack as owner and the principals that may report', async () => {
    const { registry, responses, handler } = await setUp();

    await handler(event('Create', STACK_A, properties(true, ROLE_A)));

    expect(responses[0]?.Status).toBe('SUCCESS');
    expect(await stored(registry)).toMatchObject({ owner: STACK_A, principals: [ROLE_A] });
  });

  it('fails another stack’s Create of a taken plugin, naming the owner, and changes nothing', async () => {
    const { registry, responses, handler } = await setUp();
    await handler(event('Create', STACK_A, properties(true, ROLE_A)));

    const taken = await handler(event('Create', STACK_B, properties(false, ROLE_B)));

    expect(taken.Status).toBe('FAILED');
    expect(taken.Reason).toContain(STACK_A);
    expect(taken.Reason).toContain('charge-payment');
    // A failed Create gets a placeholder id, so CloudFormation's rollback Delete touches nothing.
    expect(taken.PhysicalResourceId).not.toBe(PHYSICAL_ID);
    const rollback = await handler(
      event('Delete', STACK_B, properties(false, ROLE_B), taken.PhysicalResourceId),
    );
    expect(rollback.Status).toBe('SUCCESS');
    expect(await stored(registry)).toMatchObject({
      owner: STACK_A,
      principals: [ROLE_A],
      info: { default: { mandatory: true } },
    });
    expect(responses).toHaveLength(3);
  });

  it('refuses another stack’s Update (it cannot turn the plugin optional)', async () => {
    const { registry, handler } = await setUp();
    await handler(event('Create', STACK_A, properties(true, ROLE_A)));

    const update = await handler(event('Update', STACK_B, properties(false, ROLE_B)));

    expect(update.Status).toBe('FAILED');
    expect(update.Reason).toContain(STACK_A);
    expect(await stored(registry)).toMatchObject({ owner: STACK_A, info: { default: { mandatory: true } } });
  });

  it('answers another stack’s Delete with SUCCESS and leaves the owner’s registration', async () => {
    const { registry, handler } = await setUp();
    await handler(event('Create', STACK_A, properties(true, ROLE_A)));

    const deleted = await handler(event('Delete', STACK_B, properties(false, ROLE_B)));

    expect(deleted.Status).toBe('SUCCESS');
    expect(await stored(registry)).toMatchObject({ owner: STACK_A, principals: [ROLE_A] });
  });

  it('lets the owner update, repeat a request and delete; then the name is free for another stack', async () => {
    const { registry, handler } = await setUp();
    await handler(event('Create', STACK_A, properties(true, ROLE_A)));
    const again = await handler(event('Create', STACK_A, properties(true, ROLE_A)));
    const update = await handler(event('Update', STACK_A, properties(false, ROLE_A)));
    const repeated = await handler(event('Update', STACK_A, properties(false, ROLE_A)));
    expect([again.Status, update.Status, repeated.Status]).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(await stored(registry)).toMatchObject({ owner: STACK_A, info: { default: { mandatory: false } } });

    const deleted = await handler(event('Delete', STACK_A, properties(false, ROLE_A)));
    expect(deleted.Status).toBe('SUCCESS');
    expect(await stored(registry)).toBeUndefined();

    const claimed = await handler(event('Create', STACK_B, properties(true, ROLE_B)));
    expect(claimed.Status).toBe('SUCCESS');
    expect(await stored(registry)).toMatchObject({ owner: STACK_B, principals: [ROLE_B] });
  });

  it('gives one of two stacks racing for a free name the registration, and fails the other', async () => {
    const { registry, handler } = await setUp();

    const [a, b] = await Promise.all([
      handler(event('Create', STACK_A, properties(true, ROLE_A))),
      handler(event('Create', STACK_B, properties(false, ROLE_B))),
    ]);

    const statuses = [a.Status, b.Status].sort();
    expect(statuses).toEqual(['FAILED', 'SUCCESS']);
    const winner = a.Status === 'SUCCESS' ? STACK_A : STACK_B;
    expect((await stored(registry))?.owner).toBe(winner);
  });

  it('lets the first stack that updates a registration made before owners existed claim it', async () => {
    const { registry, handler } = await setUp();
    await registry.put({
      schemaVersion: 1,
      activity: 'checkout',
      stage: 'parallel',
      info: {
        name: 'charge-payment',
        default: { mandatory: true },
        overrides: {},
        order: 90,
        idempotent: true,
        alwaysRun: false,
        reportInProgress: true,
      },
      filterPolicyScope: 'MessageAttributes',
    });

    const update = await handler(event('Update', STACK_A, properties(true, ROLE_A)));
    const other = await handler(event('Update', STACK_B, properties(false, ROLE_B)));

    expect([update.Status, other.Status]).toEqual(['SUCCESS', 'FAILED']);
    expect(await stored(registry)).toMatchObject({ owner: STACK_A, principals: [ROLE_A] });
  });

  it('refuses principals that are not role ids, naming the property', async () => {
    const { registry, handler } = await setUp();

    const response = await handler(event('Create', STACK_A, properties(true, 'arn:aws:iam::1:role/x')));

    expect(response.Status).toBe('FAILED');
    expect(response.Reason).toContain('principals');
    expect(await stored(registry)).toBeUndefined();
  });
});
