/**
 * Errors raised while composing the Plugboard CDK app. They are thrown at synth time, so their
 * messages are written for the person running `cdk synth`: what is wrong, where, and how to fix it.
 */

/** Base class of every error the CDK app throws on purpose. */
export class PlugboardCdkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One bad entry: where it is, what it holds, what is wrong and how to fix it. */
export interface ConfigProblem {
  /** Dotted path into the input, e.g. `workflows[0].activities[2]` or `context.stage`. */
  readonly path: string;
  /** The offending value as given (undefined when the entry is missing). */
  readonly value: unknown;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/** The workflow config or the deployment context is invalid; lists every problem found. */
export class ConfigValidationError extends PlugboardCdkError {
  readonly problems: readonly ConfigProblem[];
  readonly source: string;

  constructor(source: string, problems: readonly ConfigProblem[]) {
    super(formatProblems(source, problems));
    this.source = source;
    this.problems = problems;
  }
}

function formatValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  const lines = problems.map((p) => `  - ${p.path} = ${formatValue(p.value)}: ${p.message}`);
  return [`Invalid ${source} (${count}):`, ...lines].join('\n');
}
