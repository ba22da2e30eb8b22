/**
 * Declared workflow inputs: a workflow in `plugboard.config.ts` may say which metadata fields it
 * takes, as a small JSON-Schema-like subset (type, required, enum, description per top-level field).
 * Deliberately a subset: it travels in the functions' environment as JSON, it renders as JSON Schema
 * in the OpenAPI document, and it is checked the same way by every start path (the start function
 * validates each request with {@link inputIssues}), so a start through the queue, a direct invoke,
 * the CLI or the API is refused with the same list of bad fields.
 */

export const INPUT_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array'] as const;
export type InputType = (typeof INPUT_TYPES)[number];

export interface InputField {
  readonly type: InputType;
  /** @default false */
  readonly required?: boolean;
  readonly description?: string;
  /** The only values allowed (scalars). */
  readonly enum?: readonly (string | number | boolean)[];
}

/** A workflow's declared input: metadata field name → what it must be. */
export type WorkflowInput = Readonly<Record<string, InputField>>;
/** Declared inputs by workflow name. */
export type WorkflowInputs = Readonly<Record<string, WorkflowInput>>;

/** Most issues reported for one start: the rest are counted. */
export const MAX_INPUT_ISSUES = 20;

function typeOf(value: unknown): InputType | 'null' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value as InputType;
}

function matches(type: InputType, value: unknown): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

/** Every bad field of `metadata` for `input` (`{path, message}`), at most {@link MAX_INPUT_ISSUES}. */
export function inputIssues(
  input: WorkflowInput,
  metadata: Readonly<Record<string, unknown>>,
): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  for (const [name, field] of Object.entries(input)) {
    const value = metadata[name];
    if (value === undefined) {
      if (field.required) issues.push({ path: `metadata.${name}`, message: `is required (${field.type})` });
      continue;
    }
    if (!matches(field.type, value)) {
      issues.push({
        path: `metadata.${name}`,
        message: `must be ${field.type === 'integer' ? 'an' : 'a'} ${field.type}, but is ${typeOf(value)}`,
      });
    } else if (field.enum !== undefined && !field.enum.includes(value as string | number | boolean)) {
      issues.push({
        path: `metadata.${name}`,
        message: `must be one of ${field.enum.map((v) => JSON.stringify(v)).join(', ')}`,
      });
    }
  }
  return issues.slice(0, MAX_INPUT_ISSUES);
}

/** The input as `GET /workflows` shows it (every field with `required` spelled out). */
export function describeInputs(input: WorkflowInput): Record<string, InputField & { required: boolean }> {
  return Object.fromEntries(
    Object.entries(input).map(([name, field]) => [name, { ...field, required: field.required ?? false }]),
  );
}

/** The input as a JSON Schema (2020-12) object for the OpenAPI document. */
export function inputJsonSchema(input: WorkflowInput): Record<string, unknown> {
  const required = Object.entries(input)
    .filter(([, field]) => field.required)
    .map(([name]) => name);
  return {
    type: 'object',
    properties: Object.fromEntries(
      Object.entries(input).map(([name, field]) => [
        name,
        {
          type: field.type,
          ...(field.description !== undefined ? { description: field.description } : {}),
          ...(field.enum !== undefined ? { enum: [...field.enum] } : {}),
        },
      ]),
    ),
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: true,
  };
}

/** The declared inputs in the packed config (`PLUGBOARD_CONFIG`'s `inputs`); none when absent. */
export function inputsOfPackedConfig(packed: string | undefined): WorkflowInputs {
  if (packed === undefined || packed === '') return {};
  const parsed = JSON.parse(packed) as { inputs?: unknown };
  const inputs = parsed.inputs;
  return typeof inputs === 'object' && inputs !== null ? (inputs as WorkflowInputs) : {};
}
