/**
 * EventBridge schedule rules on local timers. `rate(…)` expressions fire every period divided by the
 * runner's speed-up factor (a demo can run `rate(1 minute)` every second); `cron(…)` is refused with
 * a clear error because the local cloud has no cron calendar.
 */
import { UnsupportedScheduleError } from '../errors.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  minute: 60_000,
  minutes: 60_000,
  hour: 3_600_000,
  hours: 3_600_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** The period of a `rate(n unit)` expression in milliseconds. */
export function parseScheduleExpression(ruleName: string, expression: string): number {
  const trimmed = expression.trim();
  if (trimmed.startsWith('cron(')) {
    throw new UnsupportedScheduleError(
      ruleName,
      expression,
      'cron schedules are not supported by the local cloud; use rate(...) or fire the rule with runner.fireSchedule()',
    );
  }
  const match = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(trimmed);
  const value = Number(match?.[1]);
  const unit = UNIT_MS[match?.[2] ?? ''];
  if (match === null || unit === undefined || !Number.isInteger(value) || value < 1) {
    throw new UnsupportedScheduleError(
      ruleName,
      expression,
      'expected rate(<positive integer> minute|minutes|hour|hours|day|days)',
    );
  }
  return value * unit;
}

export interface ScheduleDefinition {
  readonly ruleName: string;
  readonly ruleArn: string;
  readonly expression: string;
  readonly enabled: boolean;
}

/** A rule's timer: calls `fire` every (period / speedUp) milliseconds while started. */
export class ScheduleTimer {
  readonly periodMs: number;
  readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private firings = 0;

  constructor(
    readonly definition: ScheduleDefinition,
    speedUp: number,
    private readonly fire: () => void,
  ) {
    if (!(speedUp > 0)) throw new RangeError(`scheduleSpeedUp must be > 0, got ${speedUp}`);
    this.periodMs = parseScheduleExpression(definition.ruleName, definition.expression);
    this.intervalMs = Math.max(10, Math.round(this.periodMs / speedUp));
  }

  get fired(): number {
    return this.firings;
  }

  start(): void {
    if (!this.definition.enabled || this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.firings += 1;
      this.fire();
    }, this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
