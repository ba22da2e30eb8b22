/** What local IAM asks of an EventBridge request: PutEvents per entry, on its bus, with its source. */
import { describe, expect, it } from 'vitest';
import { IamRegistry } from '../../local/iam/registry.js';
import { accessChecks } from '../../local/iam/requests.js';

const context = () => {
  const registry = new IamRegistry({ accountId: '123456789012', region: 'us-east-1' });
  return { region: 'us-east-1', accountId: '123456789012', registry };
};

describe('local IAM checks of EventBridge requests', () => {
  it('authorizes PutEvents per entry, on the entry bus (name, ARN or default), with its source and detail-type', () => {
    const checks = accessChecks(
      'events',
      'PutEvents',
      {
        Entries: [
          {
            EventBusName: 'plugboard-dev-events',
            Source: 'plugboard.plugboard',
            DetailType: 'Plugboard Run Started',
          },
          {
            EventBusName: 'arn:aws:events:us-east-1:123456789012:event-bus/other',
            Source: 'x.y',
            DetailType: 'T',
          },
          { Source: 'plugboard.plugboard', DetailType: 'Plugboard Run Failed' },
        ],
      },
      context(),
    );

    expect(checks).toEqual([
      {
        action: 'events:PutEvents',
        resource: 'arn:aws:events:us-east-1:123456789012:event-bus/plugboard-dev-events',
        context: { 'events:source': 'plugboard.plugboard', 'events:detail-type': 'Plugboard Run Started' },
      },
      {
        action: 'events:PutEvents',
        resource: 'arn:aws:events:us-east-1:123456789012:event-bus/other',
        context: { 'events:source': 'x.y', 'events:detail-type': 'T' },
      },
      {
        action: 'events:PutEvents',
        resource: 'arn:aws:events:us-east-1:123456789012:event-bus/default',
        context: { 'events:source': 'plugboard.plugboard', 'events:detail-type': 'Plugboard Run Failed' },
      },
    ]);
  });

  it('names the rule of rule operations and the bus of bus operations', () => {
    expect(accessChecks('events', 'PutRule', { Name: 'r', EventBusName: 'b' }, context())[0]?.resource).toBe(
      'arn:aws:events:us-east-1:123456789012:rule/b/r',
    );
    expect(accessChecks('events', 'PutTargets', { Rule: 'r' }, context())[0]?.resource).toBe(
      'arn:aws:events:us-east-1:123456789012:rule/r',
    );
    expect(accessChecks('events', 'CreateEventBus', { Name: 'b' }, context())[0]?.resource).toBe(
      'arn:aws:events:us-east-1:123456789012:event-bus/b',
    );
  });
});
