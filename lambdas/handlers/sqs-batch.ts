/**
 * Shared SQS batch plumbing: parse every record, quarantine what can never succeed (with the reason),
 * and report the rest that failed as partial batch failures so SQS delivers only those again.
 */
import type { SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { describeIssues } from '../contracts/index.js';
import { isPermanentEngineError } from '../engine/errors.js';

export interface ParsedRecord<T> {
  readonly record: SQSRecord;
  readonly message: T;
}

export interface BatchOutcome {
  readonly failures: SQSBatchItemFailure[];
  readonly quarantined: number;
}

/** Whether an error means "this message can never succeed" (quarantine) rather than "try again". */
export function isPermanent(error: unknown): boolean {
  return isPermanentEngineError(error);
}

export function parseRecord<T>(
  record: SQSRecord,
  schema: z.ZodType<T>,
): { ok: true; message: T } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(record.body);
  } catch {
    return { ok: false, reason: 'the message body is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    return { ok: false, reason: `the message does not match its schema: ${describeIssues(parsed.error)}` };
  return { ok: true, message: parsed.data };
}

export function toBatchResponse(failures: readonly SQSBatchItemFailure[]): SQSBatchResponse {
  return { batchItemFailures: failures.map((f) => ({ itemIdentifier: f.itemIdentifier })) };
}
