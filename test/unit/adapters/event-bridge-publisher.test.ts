import type {
  PutEventsCommand,
  PutEventsRequestEntry,
  PutEventsResultEntry,
} from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import {
  DETAIL_TYPES,
  EventBridgePublisher,
  EventDeliveryError,
  EventTooLargeError,
  entrySize,
  MAX_BYTES_PER_CALL,
  toEntry,
} from '../../../lambdas/adapters/event-bridge-publisher.js';
import {
  FanOutEventPublisher,
  FanOutPublishError,
} from '../../../lambdas/adapters/fan-out-event-publisher.js';
import { LIFECYCLE_EVENT_TYPES, type LifecycleEvent } from '../../../lambdas/contracts/index.js';
import { lifecycleEvent } from '../../../lambdas/engine/events.js';
import type { EventPublisher } from '../../../lambdas/engine/ports.js';

const BUS = 'plugboard-test-events';
const SOURCE = 'plugboard.plugboard';

const event = (n: number, message?: string): LifecycleEvent =>
  lifecycleEvent(
    'plugin.retrying',
    { workflow: 'order', uid: `o-${n}`, generation: 1 },
    `2026-12-04T10:00:${String(n % 60).padStart(2, '0')}.000Z`,
    { activity: 'intake', stage: 'parallel', plugin: 'fraud', attempt: 2, ...(message ? { message } : {}) },
  );

type Answer = (entries: readonly PutEventsRequestEntry[], call: number) => PutEventsResultEntry[] | Error;

/** An EventBridge client that records every PutEvents call and answers as `answer` says. */
function fakeClient(answer: Answer = (entries) => entries.map((_, i) => ({ EventId: `id-${i}` }))) {
  const calls: PutEventsRequestEntry[][] = [];
  return {
    calls,
    client: {
      send: async (command: PutEventsCommand) => {
        const entries = command.input.Entries ?? [];
        calls.push(entries);
        const result = answer(entries, calls.length);
        if (result instanceof Error) throw result;
        return { Entries: result, FailedEntryCount: result.filter((r) => r.ErrorCode).length };
      },
    } as never,
  };
}

const noSleep = { sleep: async () => {}, random: () => 1 };

describe('EventBridgePublisher', () => {
  it('puts each event with the documented source and detail-type, its detail the event itself', async () => {
    const { calls, client } = fakeClient();
    const publisher = new EventBridgePublisher({ eventBusName: BUS, source: SOURCE, client });
    const e = lifecycleEvent(
      'run.completed',
      { workflow: 'order', uid: 'o-1', generation: 2 },
      '2026-12-04T10:00:00.000Z',
    );

    await publisher.publish(e);

    expect(calls).toHaveLength(1);
    const [entry] = calls[0] ?? [];
    expect(entry).toMatchObject({ EventBusName: BUS, Source: SOURCE, DetailType: 'Plugboard Run Completed' });
    expect(JSON.parse(entry?.Detail ?? '{}')).toEqual(e);
    expect(entry?.Time?.toISOString()).toBe(e.at);
  });

  it('names a distinct detail-type for every kind of lifecycle event', () => {
    const names = LIFECYCLE_EVENT_TYPES.map((type) => DETAIL_TYPES[type]);
    expect(new Set(names).size).toBe(LIFECYCLE_EVENT_TYPES.length);
    for (const name of names) expect(name).toMatch(/^Plugboard [A-Z][a-z]+( [A-Z][a-z]+)+$/);
  });

  it('coalesces events published together into calls of at most 10 entries, in order', async () => {
    const { calls, client } = fakeClient();
    const publisher = new EventBridgePublisher({ eventBusName: BUS, source: SOURCE, client });
    const events = Array.from({ length: 23 }, (_, i) => event(i));

    await Promise.all(events.map((e) => publisher.publish(e)));

    expect(calls.map((c) => c.length)).toEqual([10, 10, 3]);
    const sent = calls.flat().map((entry) => (JSON.parse(entry.Detail ?? '{}') as LifecycleEvent).eventId);
    expect(sent).toEqual(events.map((e) => e.eventId));
  });

  it('keeps every call within 256 KB, counting as EventBridge does', async () => {
    const { calls, client } = fakeClient();
    const publisher = new EventBridgePublisher({ eventBusName: BUS, source: SOURCE, client });
    // Five events of ~100 KB each: two fit in a call, a third would not.
    const events = Array.from({ length: 5 }, (_, i) => event(i, 'x'.repeat(100 * 1024)));

    await Promise.all(events.map((e) => publisher.publish(e)));

    expect(calls.map((c) => c.length)).toEqual([2, 2, 1]);
    for (const call of calls) {
      expect(call.reduce((sum, entry) => sum + entrySize(entry), 0)).toBeLessThanOrEqual(MAX_BYTES_PER_CALL);
    }
  });

  it('counts Time as 14 bytes and the UTF-8 bytes of source, detail-type and detail', () => {
    const entry = toEntry(event(1, 'é'), { eventBusName: BUS, source: SOURCE });
    const expected =
      14 +
      Buffer.byteLength(SOURCE) +
      Buffer.byteLength(entry.DetailType ?? '') +
      Buffer.byteLength(entry.Detail ?? '', 'utf8');
    expect(entrySize(entry)).toBe(expected);
  });

  it('refuses an event too large for any call, without calling EventBridge', async () => {
    const { calls, client } = fakeClient();
    const publisher = new EventBridgePublisher({ eventBusName: BUS, source: SOURCE, client });

    const error = await publisher.publish(event(1, 'x'.repeat(MAX_BYTES_PER_CALL))).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(EventTooLargeError);
    expect((error as EventTooLargeError).retryable).toBe(false);
    expect(calls).toHaveLength(0);
  });

  it('sends again only the entries a call failed, with growing back-off, until they are on the bus', async () => {
    const delays: number[] = [];
    const { calls, client } = fakeClient((entries, call) =>
      entries.map((entry, i) =>
        // First call: entries 1 and 3 throttled; second call: the first of those fails again.
        (call === 1 && (i === 1 || i === 3)) || (call === 2 && i === 0)
          ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
          : { EventId: `${call}-${entry.Detail?.length}` },
      ),
    );
    const publisher = new EventBridgePublisher({
      eventBusName: BUS,
      source: SOURCE,
      client,
      baseDelayMs: 100,
      random: () => 1,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    const events = Array.from({ length: 4 }, (_, i) => event(i));

    await Promise.all(events.map((e) => publisher.publish(e)));

    const ids = (call: PutEventsRequestEntry[] | undefined) =>
      (call ?? []).map((entry) => (JSON.parse(entry.Detail ?? '{}') as LifecycleEvent).uid);
    expect(ids(calls[0])).toEqual(['o-0', 'o-1', 'o-2', 'o-3']);
    expect(ids(calls[1])).toEqual(['o-1', 'o-3']);
    expect(ids(calls[2])).toEqual(['o-1']);
    expect(delays).toEqual([100, 200]);
  });

  it('fails only the callers whose entries are still failing after the last attempt, as retryable', async () => {
    const { calls, client } = fakeClient((entries) =>
      entries.map((entry) =>
        (JSON.parse(entry.Detail ?? '{}') as LifecycleEvent).uid === 'o-1'
          ? { ErrorCode: 'InternalFailure', ErrorMessage: 'try later' }
          : { EventId: 'ok' },
      ),
    );
    const publisher = new EventBridgePublisher({
      eventBusName: BUS,
      source: SOURCE,
      client,
      maxAttempts: 3,
      ...noSleep,
    });

    const outcomes = await Promise.allSettled([publisher.publish(event(0)), publisher.publish(event(1))]);

    expect(outcomes[0]?.status).toBe('fulfilled');
    expect(outcomes[1]?.status).toBe('rejected');
    const error = (outcomes[1] as PromiseRejectedResult).reason as EventDeliveryError;
    expect(error).toBeInstanceOf(EventDeliveryError);
    expect(error).toMatchObject({ errorCode: 'InternalFailure', attempts: 3, retryable: true });
    expect(calls.map((c) => c.length)).toEqual([2, 1, 1]);
  });

  it('does not send again an entry EventBridge refuses for good, and says it cannot succeed', async () => {
    const { calls, client } = fakeClient((entries) =>
      entries.map(() => ({ ErrorCode: 'AccessDeniedException', ErrorMessage: 'not authorized' })),
    );
    const publisher = new EventBridgePublisher({ eventBusName: BUS, source: SOURCE, client, ...noSleep });

    const error = await publisher.publish(event(0)).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: 'EventDeliveryError', retryable: false, attempts: 1 });
    expect((error as Error).message).toContain('events:PutEvents');
    expect(calls).toHaveLength(1);
  });

  it('treats a call that throws as every entry of it failing, and sends them again', async () => {
    const { calls, client } = fakeClient((entries, call) =>
      call === 1
        ? Object.assign(new Error('socket hang up'), { name: 'TimeoutError' })
        : entries.map(() => ({ EventId: 'ok' })),
    );
    const publisher = new EventBridgePublisher({ eventBusName: BUS, source: SOURCE, client, ...noSleep });

    await Promise.all([publisher.publish(event(0)), publisher.publish(event(1))]);

    expect(calls.map((c) => c.length)).toEqual([2, 2]);
  });
});

describe('FanOutEventPublisher', () => {
  const recording = (fail?: Error) => {
    const seen: string[] = [];
    const publisher: EventPublisher = {
      publish: async (e) => {
        if (fail) throw fail;
        seen.push(e.eventId);
      },
    };
    return { seen, publisher };
  };

  it('gives every destination each event', async () => {
    const sns = recording();
    const bus = recording();
    const fanOut = new FanOutEventPublisher([
      { name: 'sns', publisher: sns.publisher },
      { name: 'eventbridge', publisher: bus.publisher },
    ]);

    await fanOut.publish(event(1));

    expect(sns.seen).toEqual([event(1).eventId]);
    expect(bus.seen).toEqual([event(1).eventId]);
  });

  it('fails, naming the destination, when one destination fails, after the others have it', async () => {
    const sns = recording();
    const bus = recording(new EventDeliveryError('e-1', 'InternalFailure', 4, true, 'try later'));
    const fanOut = new FanOutEventPublisher([
      { name: 'sns', publisher: sns.publisher },
      { name: 'eventbridge', publisher: bus.publisher },
    ]);

    const error = await fanOut.publish(event(1)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FanOutPublishError);
    expect((error as FanOutPublishError).message).toContain('eventbridge: ');
    expect((error as FanOutPublishError).retryable).toBe(true);
    expect(sns.seen).toHaveLength(1);
  });

  it('is not retryable when a destination refused the event for good', async () => {
    const fanOut = new FanOutEventPublisher([
      { name: 'sns', publisher: recording().publisher },
      {
        name: 'eventbridge',
        publisher: recording(new EventDeliveryError('e-1', 'AccessDeniedException', 1, false, 'denied'))
          .publisher,
      },
    ]);

    const error = await fanOut.publish(event(1)).catch((e: unknown) => e);

    expect((error as FanOutPublishError).retryable).toBe(false);
  });
});
