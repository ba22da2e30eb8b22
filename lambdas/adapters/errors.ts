/**
 * Typed errors of the DynamoDB adapters. They extend the engine's error base, so the SQS handlers
 * treat them like engine errors: `retryable: false` quarantines the message with the reason,
 * `retryable: true` hands it back to the queue.
 */
import { EngineError } from '../engine/errors.js';

/** Base of every error the status store and the registry raise on purpose. */
export abstract class StoreError extends EngineError {}

/** A plugin result is larger than the contract allows; nothing was written. */
export class ResultTooLargeError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly plugin: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `The result of plugin "${plugin}" is ${bytes} bytes of JSON; the limit is ${limit} bytes. Store large outputs elsewhere (e.g. S3) and return a reference.`,
    );
  }
}

/** An item in the table does not have the shape of the record its key says it is. */
export class CorruptItemError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly pk: string,
    readonly sk: string,
    readonly problem: string,
  ) {
    super(`The status table item (pk "${pk}", sk "${sk}") is corrupt: ${problem}.`);
  }
}

/** A `nextToken` that this listing did not produce (or for another workflow). */
export class InvalidPageTokenError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly listing: string,
    readonly workflow: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The nextToken is not a page token of ${listing} for workflow "${workflow}" (${problem}). Pass the nextToken of the previous page unchanged, or omit it to start from the first page.`,
      options,
    );
  }
}

/** The caller asked for something the store cannot express (an engine bug, never retried). */
export class InvalidStoreRequestError extends StoreError {
  readonly retryable = false;
}

/**
 * The stage update of a count-down transaction failed its condition although every plugin outcome
 * held: the stage is missing, belongs to another generation, or a counter would go below zero.
 * Nothing of the failing transaction was written (earlier chunks of the same call were).
 */
export class CountDownRefusedError extends StoreError {
  readonly retryable = false;
  constructor(
    readonly stage: {
      readonly workflow: string;
      readonly uid: string;
      readonly activity: string;
      readonly stage: string;
    },
    readonly reason: 'missing' | 'generation' | 'underflow',
    readonly detail: {
      readonly expectedGeneration: number;
      readonly mandatoryDown: number;
      readonly optionalDown: number;
      readonly current?: {
        readonly generation?: unknown;
        readonly mandatoryPending?: unknown;
        readonly optionalPending?: unknown;
      };
      /** Plugins (names) applied by earlier chunks of the same call before this one failed. */
      readonly appliedBefore: readonly string[];
    },
  ) {
    const where = `stage ${stage.activity}/${stage.stage} of run "${stage.uid}" (${stage.workflow})`;
    const why =
      reason === 'missing'
        ? 'the stage record does not exist'
        : reason === 'generation'
          ? `the stage is at generation ${String(detail.current?.generation)}, not ${detail.expectedGeneration}`
          : `counting down ${detail.mandatoryDown} mandatory and ${detail.optionalDown} optional would go below zero (pending: ${String(detail.current?.mandatoryPending)} mandatory, ${String(detail.current?.optionalPending)} optional)`;
    super(`Refused to count down ${where}: ${why}. This is a bug in the engine's bookkeeping.`);
  }
}

/** A write kept failing for a transient reason (transaction conflicts, throttling, a racing delete). */
export class ContentionError extends StoreError {
  readonly retryable = true;
  constructor(
    readonly operation: string,
    readonly attempts: number,
    readonly reasons: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `${operation} failed ${attempts} times (${reasons.join(', ')}); giving up for now. The message will be delivered again.`,
      options,
    );
  }
}
