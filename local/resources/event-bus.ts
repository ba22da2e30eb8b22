/**
 * AWS::Events::EventBus on moto's EventBridge backend: a custom bus that event-pattern rules
 * (events.ts) listen on. moto matches the events put on it against those rules and delivers them to
 * their SQS targets, as EventBridge does.
 */
import { CreateEventBusCommand, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
import { TAGS_REASON } from './properties.js';
import { arn, type ProviderContext, type ResourceProvider } from './provider.js';

export const eventBusProvider: ResourceProvider = {
  types: ['AWS::Events::EventBus'],
  async create(context: ProviderContext) {
    const p = context.properties;
    const name = p.string('Name');
    if (name === 'default')
      throw p.error('Name', 'the default bus exists already; leave it out of the template');
    p.reject('EventSourceName', 'partner event sources are not emulated');
    p.ignore('Description', 'descriptive only');
    p.ignore('Policy', 'resource policies of buses are not evaluated locally (only identity policies are)');
    p.ignore('KmsKeyIdentifier', 'events at rest are not encrypted locally');
    p.ignore('DeadLetterConfig', 'delivery to a local target does not fail');
    p.ignore('Tags', TAGS_REASON);
    p.done();
    let busArn: string | undefined;
    try {
      busArn = (await context.clients.events.send(new CreateEventBusCommand({ Name: name }))).EventBusArn;
    } catch (error) {
      if (!(error instanceof ResourceAlreadyExistsException)) throw error;
    }
    return {
      physicalId: name,
      attributes: { Arn: busArn ?? arn(context.environment, 'events', `event-bus/${name}`), Name: name },
    };
  },
};
