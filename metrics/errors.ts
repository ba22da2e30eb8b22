/**
 * Typed errors of the metrics component. The base class sets `name` and keeps `cause`; subclasses
 * carry their context as fields and say whether running again can help.
 */

/** Base of every error the metrics component throws on purpose. */
export abstract class MetricsError extends Error {
  /** Whether the next scheduled run can succeed without a change (a transient failure). */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The liveness function's environment is missing a variable or holds a malformed one. */
export class MetricsConfigurationError extends MetricsError {
  readonly retryable = false;

  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}; the metrics stack sets it on deploy.`);
  }
}

/** A run item read from the `active` index does not have the shape the liveness check needs. */
export class UnreadableRunError extends MetricsError {
  readonly retryable = false;

  constructor(
    readonly pk: string,
    problem: string,
  ) {
    super(`The run item "${pk}" cannot be checked for progress: ${problem}.`);
  }
}

/** BatchGetItem kept returning unprocessed run or stage keys (throttling): the check is retried next run. */
export class ItemReadError extends MetricsError {
  readonly retryable = true;

  constructor(
    readonly unprocessed: number,
    readonly retries: number,
  ) {
    super(
      `BatchGetItem left ${unprocessed} run or stage item(s) unprocessed after ${retries} retries (DynamoDB is throttling the status table); the next liveness tick reads them again.`,
    );
  }
}

/** One stuck-run alert that could not be delivered (its claim was released, so it is retried). */
export interface UndeliveredAlert {
  readonly workflow: string;
  readonly uid: string;
  readonly cause: unknown;
}

/**
 * Some stuck-run alerts could not be published. Their claims on the run items were released, so the
 * next scheduled run publishes them again; the metrics of this run were put regardless.
 */
export class AlertDeliveryError extends MetricsError {
  readonly retryable = true;

  constructor(readonly undelivered: readonly UndeliveredAlert[]) {
    const runs = undelivered.map((a) => `${a.workflow}/${a.uid}`).join(', ');
    super(
      `Could not publish ${undelivered.length} stuck-run alert(s) (${runs}); they are retried on the next run.`,
      {
        cause: undelivered[0]?.cause,
      },
    );
  }
}

/** Where a prop of the metrics stack is wrong, with its value and the fix. */
export interface PropProblem {
  readonly prop: string;
  readonly value: unknown;
  readonly message: string;
}

/** The metrics stack's props are invalid; lists every problem found. */
export class MetricsStackPropsError extends MetricsError {
  readonly retryable = false;

  constructor(readonly problems: readonly PropProblem[]) {
    const lines = problems.map((p) => `  - ${p.prop} = ${formatValue(p.value)}: ${p.message}`);
    super([`Invalid MetricsStack props (${problems.length}):`, ...lines].join('\n'));
  }
}

function formatValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
