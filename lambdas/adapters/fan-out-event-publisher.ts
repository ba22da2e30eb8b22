/**
 * Sends every lifecycle event to several destinations at once (the SNS events topic and, with
 * `events.eventBridge` on, the event bus), so the engine keeps one event port. The event counts as
 * published only when every destination has it: otherwise the handler's message is retried, and a
 * destination that already had the event gets it again (consumers drop duplicates by `eventId`).
 */
import type { LifecycleEvent } from '../contracts/index.js';
import { EngineError } from '../engine/errors.js';
import type { EventPublisher } from '../engine/ports.js';

export interface NamedPublisher {
  /** What the destination is, for the error (`sns`, `eventbridge`). */
  readonly name: string;
  readonly publisher: EventPublisher;
}

/** Some destinations did not take the event. Retryable when every failure is. */
export class FanOutPublishError extends EngineError {
  readonly retryable: boolean;
  constructor(
    readonly eventId: string,
    readonly failures: readonly { readonly name: string; readonly error: unknown }[],
  ) {
    const parts = failures.map(({ name, error }) => `${name}: ${(error as Error)?.message ?? String(error)}`);
    super(`Lifecycle event "${eventId}" was not published to every destination — ${parts.join('; ')}`, {
      cause: failures[0]?.error,
    });
    this.retryable = failures.every(({ error }) => (error as { retryable?: unknown })?.retryable !== false);
  }
}

export class FanOutEventPublisher implements EventPublisher {
  constructor(private readonly destinations: readonly NamedPublisher[]) {
    if (destinations.length === 0)
      throw new RangeError('FanOutEventPublisher needs at least one destination');
  }

  async publish(event: LifecycleEvent): Promise<void> {
    const settled = await Promise.allSettled(this.destinations.map((d) => d.publisher.publish(event)));
    const failures = settled.flatMap((result, index) =>
      result.status === 'rejected'
        ? [{ name: this.destinations[index]?.name ?? `#${index}`, error: result.reason }]
        : [],
    );
    if (failures.length > 0) throw new FanOutPublishError(event.eventId, failures);
  }
}
