/** Where the CLI's operator events go: the events topic, and the bus too when the deployment exports one. */
import { describe, expect, it } from 'vitest';
import { Deployment } from '../../bin/cli/deployment.js';
import { EventBridgePublisher } from '../../lambdas/adapters/event-bridge-publisher.js';
import { FanOutEventPublisher } from '../../lambdas/adapters/fan-out-event-publisher.js';
import { SnsEventPublisher } from '../../lambdas/adapters/sns-event-publisher.js';
import { EXPORTS } from '../../lambdas/contracts/index.js';

const REF = { systemName: 'plugboard', stage: 'dev' };
const config = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
const deployment = (exports: Record<string, string>) => new Deployment(REF, 'aws', exports, config, config);
const topic = { [EXPORTS.eventsTopicArn(REF)]: 'arn:aws:sns:us-east-1:123456789012:plugboard-dev-events' };

describe('Deployment.events', () => {
  it('is the events topic alone when no event bus is exported', () => {
    expect(deployment(topic).events).toBeInstanceOf(SnsEventPublisher);
  });

  it('fans out to the topic and the exported bus, as the orchestrators do', () => {
    const events = deployment({ ...topic, [EXPORTS.eventBusName(REF)]: 'plugboard-dev-events' }).events;
    expect(events).toBeInstanceOf(FanOutEventPublisher);
    const destinations = (events as unknown as { destinations: { name: string; publisher: unknown }[] })
      .destinations;
    expect(destinations.map((d) => d.name)).toEqual(['sns', 'eventbridge']);
    expect(destinations[1]?.publisher).toBeInstanceOf(EventBridgePublisher);
  });
});
