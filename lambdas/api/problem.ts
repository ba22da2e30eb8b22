/**
 * Errors of the HTTP API as RFC 9457 problem details (`application/problem+json`): every refusal,
 * from a malformed body to an unknown route, answers in this one shape, so a client needs one parser.
 * `type` is a stable URN per kind of problem; `detail` says what is wrong and how to fix it.
 */

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** The kinds of problem the API answers with, by the URN in `type`. */
export const PROBLEM_TYPES = {
  badRequest: 'urn:plugboard:problem:bad-request',
  invalidBody: 'urn:plugboard:problem:invalid-body',
  unknownWorkflow: 'urn:plugboard:problem:unknown-workflow',
  unknownRun: 'urn:plugboard:problem:unknown-run',
  notFound: 'urn:plugboard:problem:not-found',
  methodNotAllowed: 'urn:plugboard:problem:method-not-allowed',
  conflict: 'urn:plugboard:problem:conflict',
  tooLarge: 'urn:plugboard:problem:payload-too-large',
  unsupportedMediaType: 'urn:plugboard:problem:unsupported-media-type',
  unavailable: 'urn:plugboard:problem:unavailable',
  internal: 'urn:plugboard:problem:internal',
} as const;

export type ProblemType = (typeof PROBLEM_TYPES)[keyof typeof PROBLEM_TYPES];

export interface Problem {
  readonly type: ProblemType;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  /** Every problem of an invalid body or query, capped at {@link MAX_LISTED_ISSUES}. */
  readonly issues?: readonly { readonly path: string; readonly message: string }[];
  /** Extension members (e.g. the known workflows of an unknown one). */
  readonly [extension: string]: unknown;
}

/** How many issues a 400 lists; the rest are counted in `detail`. */
export const MAX_LISTED_ISSUES = 20;

const TITLES: Readonly<Record<ProblemType, string>> = {
  [PROBLEM_TYPES.badRequest]: 'Bad request',
  [PROBLEM_TYPES.invalidBody]: 'Invalid request',
  [PROBLEM_TYPES.unknownWorkflow]: 'Unknown workflow',
  [PROBLEM_TYPES.unknownRun]: 'Unknown run',
  [PROBLEM_TYPES.notFound]: 'Not found',
  [PROBLEM_TYPES.methodNotAllowed]: 'Method not allowed',
  [PROBLEM_TYPES.conflict]: 'Conflict',
  [PROBLEM_TYPES.tooLarge]: 'Payload too large',
  [PROBLEM_TYPES.unsupportedMediaType]: 'Unsupported media type',
  [PROBLEM_TYPES.unavailable]: 'Service unavailable',
  [PROBLEM_TYPES.internal]: 'Internal error',
};

/** A refusal a route throws; the handler turns it into a problem response. */
export class ApiProblem extends Error {
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly status: number,
    readonly type: ProblemType,
    detail: string,
    readonly extensions: Readonly<Record<string, unknown>> = {},
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = new.target.name;
    this.headers = headers;
  }

  toProblem(instance?: string): Problem {
    return {
      type: this.type,
      title: TITLES[this.type],
      status: this.status,
      detail: this.message,
      ...(instance !== undefined ? { instance } : {}),
      ...this.extensions,
    };
  }
}

/** A 400 listing each issue (capped), with their count in the detail when some are left out. */
export function invalidRequest(
  what: string,
  issues: readonly { readonly path: string; readonly message: string }[],
): ApiProblem {
  const listed = issues.slice(0, MAX_LISTED_ISSUES);
  const more = issues.length - listed.length;
  const summary = listed.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
  return new ApiProblem(
    400,
    PROBLEM_TYPES.invalidBody,
    `Invalid ${what}: ${summary}${more > 0 ? `; and ${more} more issue(s)` : ''}. Fix the listed fields and send it again.`,
    { issues: listed, ...(more > 0 ? { moreIssues: more } : {}) },
  );
}
