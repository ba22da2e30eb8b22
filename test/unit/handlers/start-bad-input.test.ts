/**
 * Bounded bad input on the start path (issue 15): the sizes of what an invalid start request makes
 * the start function answer and log. The probe of the issue, a start of 100,000 invalid keys
 * (1.19 MB of JSON), answered a 19.9 MB error (over Lambda's 6 MB response limit), and a 256 KiB
 * queued one logged a 4.29 MB reason. Sizes, not times: nothing here is timed.
 */
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EngineDeps } from '../../../lambdas/engine/deps.js';
import { createObservability } from '../../../lambdas/handlers/observability.js';
import { createStartHandler, MAX_START_REQUEST_BYTES } from '../../../lambdas/handlers/start.js';

/** A start request with `count` keys the schema does not know. */
function invalidKeys(count: number): Record<string, unknown> {
  const request: Record<string, unknown> = { workflow: 'order', uid: 'probe', metadata: {} };
  for (let i = 0; i < count; i += 1) request[`k${i}`] = i;
  return request;
}

function handlerWith(quarantined: { body: string; reason: string }[]) {
  return createStartHandler({
    // Never reached: every request here is refused before the engine.
    engine: {} as EngineDeps,
    quarantine: {
      quarantine: async (body: string, reason: string) => {
        quarantined.push({ body, reason });
      },
    },
    observability: createObservability('start', 'test'),
  });
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the start function on oversized and invalid requests', () => {
  it('answers the 100,000-invalid-keys probe (1.19 MB) with an error of a few hundred bytes, checked before parsing', async () => {
    const probe = invalidKeys(100_000);
    const size = Buffer.byteLength(JSON.stringify(probe));
    expect(size).toBeGreaterThan(1_100_000);
    const answer = await handlerWith([])(probe);
    const answered = Buffer.byteLength(JSON.stringify(answer));
    expect(answer).toMatchObject({ ok: false, error: { type: 'ValidationError', retryable: false } });
    expect(JSON.stringify(answer)).toContain(`at most ${MAX_START_REQUEST_BYTES} are accepted`);
    expect(answered).toBeLessThan(400);
  });

  it('caps the reason of a request just under the size limit with thousands of invalid keys', async () => {
    const probe = invalidKeys(5_000);
    expect(Buffer.byteLength(JSON.stringify(probe))).toBeLessThan(MAX_START_REQUEST_BYTES);
    const answer = (await handlerWith([])(probe)) as { error: { message: string } };
    expect(answer.error.message.length).toBeLessThanOrEqual(2000);
  });

  it('logs and quarantines a 256 KiB queued request with a bounded reason, never the body in the log', async () => {
    const written: string[] = [];
    const record = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(record);
    vi.spyOn(process.stderr, 'write').mockImplementation(record);
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const)
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        record(args.join(' '));
      });
    const body = JSON.stringify(invalidKeys(20_000)).padEnd(256 * 1024, ' ');
    const quarantined: { body: string; reason: string }[] = [];
    const event = {
      Records: [{ messageId: 'm-1', body, eventSource: 'aws:sqs', attributes: {}, messageAttributes: {} }],
    } as unknown as SQSEvent;
    await handlerWith(quarantined)(event);
    vi.restoreAllMocks();
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]?.reason.length).toBeLessThanOrEqual(2000);
    const longest = Math.max(0, ...written.map((line) => Buffer.byteLength(line)));
    expect(written.join('')).toContain('start request quarantined');
    expect(longest).toBeLessThan(4096);
  });
});
