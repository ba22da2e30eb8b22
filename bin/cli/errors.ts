/**
 * The CLI's errors. Each carries the exit code it ends the process with and a message that says what
 * is wrong and what to do; `--debug` adds the stack and the cause.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { readonly exitCode?: number; readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

/** Bad arguments or options (exit 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, { exitCode: EXIT.usage });
  }
}

/** The run, plugin or deployment asked for does not exist (exit 1). */
export class NotFoundError extends CliError {}

/** The deployment could not be resolved (missing exports, no local state file...). */
export class DeploymentError extends CliError {}
