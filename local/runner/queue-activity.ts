/**
 * Who sent what where: the AWS proxy sees every SendMessage, ChangeMessageVisibility and SNS Publish
 * on its way to moto, and tells the runner's pollers through this notifier, so a poller that is
 * gathering a batch wakes up when a message may have arrived instead of sleeping through its batching
 * window in whole seconds (SQS long polls wait in whole seconds only).
 *
 * A notification is a hint, never a message: the poller still receives from moto, so what it gets is
 * exactly what SQS holds. A missed hint only costs time (the poller still wakes at its deadline).
 */

/** The queue name of an SQS queue URL (`…/123456789012/name` → `name`); the input itself otherwise. */
export function queueNameOf(queueUrlOrName: string): string {
  const trimmed = queueUrlOrName.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

export class QueueActivity {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Wakes the waiters of one queue (by URL or name), or of every queue when `queue` is undefined. */
  notify(queue?: string): void {
    if (queue === undefined) {
      for (const name of [...this.waiters.keys()]) this.wake(name);
      return;
    }
    this.wake(queueNameOf(queue));
  }

  /**
   * Resolves `true` at the next notification for `queue`, or `false` after `ms` or when `signal`
   * aborts, whichever comes first.
   */
  wait(queue: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    const name = queueNameOf(queue);
    if (signal?.aborted || ms <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiters = this.waiters.get(name) ?? new Set<() => void>();
      this.waiters.set(name, waiters);
      const done = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        waiters.delete(onNotify);
        if (waiters.size === 0 && this.waiters.get(name) === waiters) this.waiters.delete(name);
        resolve(notified);
      };
      const onNotify = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      waiters.add(onNotify);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Queues with someone waiting (for tests and diagnostics). */
  waitingQueues(): string[] {
    return [...this.waiters.keys()];
  }

  private wake(name: string): void {
    const waiters = this.waiters.get(name);
    if (waiters === undefined) return;
    for (const waiter of [...waiters]) waiter();
  }
}

const SQS_ARRIVALS = new Set([
  'SendMessage',
  'SendMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
]);
const SNS_ARRIVALS = new Set(['Publish', 'PublishBatch']);

/**
 * Which queue a successful AWS request may have put a visible message in: the `QueueUrl` of an SQS
 * send or visibility change, `'*'` for an SNS publish (moto delivers to subscribed queues inside
 * Publish), `undefined` for anything else.
 */
export function arrivalOf(request: {
  readonly service: string;
  readonly operation: string;
  readonly status: number;
  readonly requestBody: string;
}): string | undefined {
  if (request.status < 200 || request.status >= 300) return undefined;
  if (request.service === 'sns') return SNS_ARRIVALS.has(request.operation) ? '*' : undefined;
  if (request.service !== 'sqs' || !SQS_ARRIVALS.has(request.operation)) return undefined;
  const json = /"QueueUrl"\s*:\s*"([^"]+)"/.exec(request.requestBody)?.[1];
  if (json !== undefined) return json;
  const form = /(?:^|&)QueueUrl=([^&]+)/.exec(request.requestBody)?.[1];
  return form === undefined ? undefined : decodeURIComponent(form.replaceAll('+', ' '));
}
