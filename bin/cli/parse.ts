/** Parsing of option values; a bad value is a usage error (exit 2) naming the option. */
import { readFileSync } from 'node:fs';
import { STAGE_NAMES, type StageName } from '../../lambdas/contracts/index.js';
import { UsageError } from './errors.js';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `500ms`, `30s`, `10m`, `2h`, `7d` → milliseconds. */
export function parseDuration(value: string, option: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) {
    throw new UsageError(
      `${option} "${value}" is not a duration: use a number and a unit, like 30s, 10m, 2h or 7d.`,
    );
  }
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** `--since`: an ISO time, or a duration back from `now` (`2h` = the last two hours). */
export function parseSince(value: string, now: Date): string {
  if (DURATION.test(value.trim()))
    return new Date(now.getTime() - parseDuration(value, '--since')).toISOString();
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) {
    throw new UsageError(
      `--since "${value}" is neither an ISO time (2026-11-23T10:00:00Z) nor a duration (2h, 7d).`,
    );
  }
  return new Date(parsed).toISOString();
}

export function parsePositiveInt(value: string, option: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UsageError(`${option} must be a whole number from 1 to ${max} (got "${value}").`);
  }
  return n;
}

export function parseStageName(value: string): StageName {
  if (!(STAGE_NAMES as readonly string[]).includes(value)) {
    throw new UsageError(`Stage "${value}" is not one of ${STAGE_NAMES.join(', ')}.`);
  }
  return value as StageName;
}

/** `--metadata '{"channel":"web"}'` or `--metadata @order.json`: a JSON object. */
export function parseMetadata(
  value: string,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): Record<string, unknown> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFile(value.slice(1));
    } catch (error) {
      throw new UsageError(`--metadata: cannot read ${value.slice(1)} (${(error as Error).message}).`);
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--metadata is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError('--metadata must be a JSON object, like {"channel":"web"}.');
  }
  return parsed as Record<string, unknown>;
}
