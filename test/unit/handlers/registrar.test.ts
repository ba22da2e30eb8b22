/**
 * The registrar answers CloudFormation on every path: success, bad input, a failing initialize call,
 * an unexpected error and running out of time.
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { RemoveOutcome } from '../../../lambdas/adapters/dynamo-registry.js';
import type { Registration, StageName } from '../../../lambdas/contracts/index.js';
import { createObservability } from '../../../lambdas/handlers/observability.js';
import {
  type CloudFormationResponse,
  createRegistrarHandler,
  type OwnedRegistry,
  type PluginInitializer,
} from '../../../lambdas/handlers/registrar.js';

class FakeRegistry implements OwnedRegistry {
  readonly items = new Map<string, Registration>();
  failWith: Error | undefined;
  async put(registration: Registration): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.items.set(`${registration.activity}/${registration.stage}/${registration.info.name}`, registration);
  }
  async removeOwned(activity: string, stage: StageName, plugin: string): Promise<RemoveOutcome> {
    this.items.delete(`${activity}/${stage}/${plugin}`);
    return { removed: true };
  }
  async list(activity: string, stage: StageName): Promise<readonly Registration[]> {
    return [...this.items.values()].filter((r) => r.activity === activity && r.stage === stage);
  }
}

function setUp(initializer: PluginInitializer = { initialize: async () => ({}) }) {
  const registry = new FakeRegistry();
  const responses: CloudFormationResponse[] = [];
  const handler = createRegistrarHandler({
    registry,
    initializer,
    knownActivities: ['intake', 'fulfilment'],
    observability: createObservability('registrar-test', 'test'),
    respond: async (_url, body) => {
      responses.push(body);
    },
  });
  return { registry, responses, handler };
}

const registration = (name = 'check-credit', extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    activity: 'fulfilment',
    stage: 'parallel',
    info: { name, default: { mandatory: true } },
    ...extra,
  });

function event(
  requestType: 'Create' | 'Update' | 'Delete',
  properties: Record<string, unknown>,
  physicalId = 'plugboard-registration:fulfilment:parallel:check-credit',
): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:registrar',
    ResponseURL: 'https://example.invalid/response',
    StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/plugins/1',
    RequestId: 'req-1',
    LogicalResourceId: 'Registration',
    ResourceType: 'Custom::PlugboardPluginRegistration',
    ResourceProperties: { ServiceToken: 'x', ...properties },
  };
  if (requestType === 'Create') return { ...base, RequestType: 'Create' };
  if (requestType === 'Update') {
    return {
      ...base,
      RequestType: 'Update',
      PhysicalResourceId: physicalId,
      OldResourceProperties: { ServiceToken: 'x' },
    };
  }
  return { ...base, RequestType: 'Delete', PhysicalResourceId: physicalId };
}

describe('the registrar', () => {
  it('stores a registration on Create and answers SUCCESS with a stable physical id', async () => {
    const { registry, responses, handler } = setUp();

    await handler(
      event('Create', { Activity: 'fulfilment', Stage: 'parallel', Registration: registration() }),
    );

    expect(responses).toEqual([
      expect.objectContaining({
        Status: 'SUCCESS',
        PhysicalResourceId: 'plugboard-registration:fulfilment:parallel:check-credit',
        RequestId: 'req-1',
        LogicalResourceId: 'Registration',
      }),
    ]);
    expect(registry.items.get('fulfilment/parallel/check-credit')?.info).toMatchObject({
      order: 90,
      idempotent: true,
    });
  });

  it('answers FAILED with the reason, and a placeholder id, when the registration is invalid', async () => {
    const { registry, responses, handler } = setUp();

    await handler(
      event('Create', { Activity: 'fulfilment', Stage: 'parallel', Registration: registration('bad name!') }),
    );

    expect(responses[0]).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: 'plugboard-registration:failed:req-1',
    });
    expect(responses[0]?.Reason).toContain('info.name');
    expect(registry.items.size).toBe(0);
  });

  it('refuses an activity the deployment does not have, naming the known ones', async () => {
    const { responses, handler } = setUp();

    await handler(event('Create', { Activity: 'billing', Stage: 'parallel', Registration: registration() }));

    expect(responses[0]?.Status).toBe('FAILED');
    expect(responses[0]?.Reason).toContain('known: intake, fulfilment');
  });

  it('refuses an invalid filter policy at deploy time', async () => {
    const { responses, handler } = setUp();

    await handler(
      event('Create', {
        Activity: 'fulfilment',
        Stage: 'parallel',
        Registration: registration('check-credit', { filterPolicy: { country: [{ between: [1, 2] }] } }),
      }),
    );

    expect(responses[0]?.Status).toBe('FAILED');
    expect(responses[0]?.Reason).toMatch(/filter policy/i);
  });

  it('asks the function for its PluginInfo when only the function is named', async () => {
    const asked: string[] = [];
    const { registry, responses, handler } = setUp({
      initialize: async (arn) => {
        asked.push(arn);
        return { name: 'legacy-plugin', default: { mandatory: false }, order: 10 };
      },
    });

    await handler(
      event('Create', {
        Activity: 'intake',
        Stage: 'pre',
        FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:legacy',
        FilterPolicy: JSON.stringify({ channel: ['web'] }),
      }),
    );

    expect(asked).toEqual(['arn:aws:lambda:us-east-1:123456789012:function:legacy']);
    expect(responses[0]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'plugboard-registration:intake:pre:legacy-plugin',
    });
    expect(registry.items.get('intake/pre/legacy-plugin')).toMatchObject({
      filterPolicy: { channel: ['web'] },
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:legacy',
    });
  });

  it('fails the deploy with a clear message when the initialize answer is not a PluginInfo', async () => {
    const { responses, handler } = setUp({ initialize: async () => ({ hello: 'world' }) });

    await handler(event('Create', { Activity: 'intake', Stage: 'pre', FunctionArn: 'arn:fn' }));

    expect(responses[0]?.Status).toBe('FAILED');
    expect(responses[0]?.Reason).toContain('did not answer a valid PluginInfo');
  });

  it('answers FAILED when the store fails unexpectedly', async () => {
    const { registry, responses, handler } = setUp();
    registry.failWith = new Error('throttled');

    await handler(
      event('Update', { Activity: 'fulfilment', Stage: 'parallel', Registration: registration() }),
    );

    expect(responses[0]).toMatchObject({ Status: 'FAILED', Reason: 'throttled' });
    expect(responses[0]?.PhysicalResourceId).toBe('plugboard-registration:fulfilment:parallel:check-credit');
  });

  it('answers FAILED before the function would time out', async () => {
    const { responses, handler } = setUp({ initialize: () => new Promise(() => undefined) });

    await handler(event('Create', { Activity: 'intake', Stage: 'pre', FunctionArn: 'arn:fn' }), {
      getRemainingTimeInMillis: () => 6000,
    });

    expect(responses[0]?.Status).toBe('FAILED');
    expect(responses[0]?.Reason).toContain('did not finish within');
  });

  it('removes the registration on Delete, and succeeds on a Delete of a failed Create', async () => {
    const { registry, responses, handler } = setUp();
    await handler(
      event('Create', { Activity: 'fulfilment', Stage: 'parallel', Registration: registration() }),
    );

    await handler(event('Delete', {}));
    await handler(event('Delete', {}, 'plugboard-registration:failed:req-0'));

    expect(registry.items.size).toBe(0);
    expect(responses.map((r) => r.Status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
  });

  it('gives an Update that renames the plugin a new physical id (CloudFormation then deletes the old one)', async () => {
    const { responses, handler } = setUp();

    await handler(
      event('Update', { Activity: 'fulfilment', Stage: 'parallel', Registration: registration('renamed') }),
    );

    expect(responses[0]?.PhysicalResourceId).toBe('plugboard-registration:fulfilment:parallel:renamed');
  });

  it('accepts Registration as an object, restoring the booleans and numbers CloudFormation turns into strings', async () => {
    const { registry, responses, handler } = setUp();

    await handler(
      event('Create', {
        Activity: 'fulfilment',
        Stage: 'parallel',
        Registration: {
          schemaVersion: '1',
          activity: 'fulfilment',
          stage: 'parallel',
          info: {
            name: 'check-credit',
            default: { mandatory: 'true' },
            overrides: { intake: { mandatory: 'false' } },
            order: '10',
            idempotent: 'false',
            deadlineSeconds: '300',
          },
          filterPolicy: { amount: [{ numeric: ['>=', '100'] }], vip: [{ exists: 'true' }] },
        },
      }),
    );

    expect(responses[0]?.Status).toBe('SUCCESS');
    expect(registry.items.get('fulfilment/parallel/check-credit')).toMatchObject({
      info: {
        default: { mandatory: true },
        overrides: { intake: { mandatory: false } },
        order: 10,
        idempotent: false,
        deadlineSeconds: 300,
      },
      filterPolicy: { amount: [{ numeric: ['>=', 100] }], vip: [{ exists: true }] },
    });
  });

  it('accepts FilterPolicy as an object next to FunctionArn', async () => {
    const { registry, responses, handler } = setUp({
      initialize: async () => ({ name: 'legacy-plugin', default: { mandatory: false } }),
    });

    await handler(
      event('Create', {
        Activity: 'intake',
        Stage: 'pre',
        FunctionArn: 'arn:fn',
        FilterPolicy: { channel: ['web'], score: [{ numeric: ['<', '5'] }] },
      }),
    );

    expect(responses[0]?.Status).toBe('SUCCESS');
    expect(registry.items.get('intake/pre/legacy-plugin')?.filterPolicy).toEqual({
      channel: ['web'],
      score: [{ numeric: ['<', 5] }],
    });
  });

  it('registers a function that answers the predecessor’s PluginInfo (pluginName)', async () => {
    const { registry, responses, handler } = setUp({
      initialize: async () => ({
        pluginName: 'legacy-plugin',
        default: { mandatory: true, pluginRegisterTimeout: 5000 },
      }),
    });

    await handler(event('Create', { Activity: 'intake', Stage: 'pre', FunctionArn: 'arn:fn' }));

    expect(responses[0]?.Status).toBe('SUCCESS');
    expect(registry.items.get('intake/pre/legacy-plugin')?.info.default).toEqual({ mandatory: true });
  });

  it('names the stages (and the predecessor’s async) for an unknown Stage', async () => {
    const { responses, handler } = setUp();

    await handler(event('Create', { Activity: 'fulfilment', Stage: 'async', Registration: registration() }));

    expect(responses[0]?.Status).toBe('FAILED');
    expect(responses[0]?.Reason).toContain(
      'Stage "async" must be one of pre, parallel, post (the predecessor\'s "async" is "parallel")',
    );
  });

  it('says how to give Registration when it is neither JSON text nor an object', async () => {
    const { responses, handler } = setUp();

    await handler(event('Create', { Activity: 'fulfilment', Stage: 'parallel', Registration: '{not json' }));

    expect(responses[0]?.Reason).toContain('is not valid JSON: give it as an object, or as JSON text');
  });
});
