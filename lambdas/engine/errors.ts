/**
 * Typed engine errors. `retryable` tells a handler whether to hand the message back to the queue
 * (a transient failure) or to quarantine it in the DLQ with the reason (it can never succeed).
 */
export abstract class EngineError extends Error {
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request or message is wrong; repeating it cannot help. */
export class ValidationError extends EngineError {
  readonly retryable = false;
}

export class UnknownWorkflowError extends EngineError {
  readonly retryable = false;
  constructor(
    readonly workflow: string,
    readonly known: readonly string[],
  ) {
    super(
      `Unknown workflow "${workflow}". Known workflows: ${known.length ? known.join(', ') : '(none)'}. Declare it in plugboard.config.ts and deploy.`,
    );
  }
}

export class UnknownRunError extends EngineError {
  readonly retryable = false;
  constructor(
    readonly workflow: string,
    readonly uid: string,
  ) {
    super(`No run "${uid}" of workflow "${workflow}". Start it first.`);
  }
}

export class MetadataMismatchError extends EngineError {
  readonly retryable = false;
  constructor(
    readonly workflow: string,
    readonly uid: string,
  ) {
    super(
      `The rerun's metadata differs from the stored metadata of run "${uid}" of "${workflow}". Send the same metadata, or set metadataOverride to replace it.`,
    );
  }
}

/** The message belongs to another stage orchestrator: a routing bug, never retried. */
export class MisroutedMessageError extends EngineError {
  readonly retryable = false;
}

/** Whether an error means "this message can never succeed" (quarantine) rather than "try again". */
export function isPermanentEngineError(error: unknown): boolean {
  return error instanceof EngineError && !error.retryable;
}
