import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionDefinition, LambdaRunner } from '../../local/index.js';
import { arrivalOf, QueueActivity, queueNameOf } from '../../local/runner/queue-activity.js';
import { importsRuntimeProvided } from '../../local/runner/runtime-provided.js';
import { runnerFunction } from '../fixtures/local/harness.js';

/** A CJS bundle that reports how its environment was initialized, and an ESM one that loads slowly. */
const HANDLERS = {
  'index.js': `exports.handler = async () => ({ initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE });\n`,
  'slow.mjs': [
    'await new Promise((resolve) => setTimeout(resolve, 1500));',
    'export const handler = async () => ({ initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE });',
    '',
  ].join('\n'),
};

let codeDirectory: string;

beforeAll(async () => {
  codeDirectory = await mkdtemp(join(tmpdir(), 'plugboard-speed-'));
  for (const [file, source] of Object.entries(HANDLERS)) await writeFile(join(codeDirectory, file), source);
});

afterAll(async () => {
  await rm(codeDirectory, { recursive: true, force: true });
});

function definition(name: string, overrides: Partial<FunctionDefinition> = {}): FunctionDefinition {
  return runnerFunction(name, codeDirectory, overrides);
}

async function withRunner<T>(
  options: { prewarm?: number; defaultConcurrency?: number },
  work: (runner: LambdaRunner) => Promise<T>,
): Promise<T> {
  const runner = await LambdaRunner.start({
    // The handlers make no AWS calls: nothing listens here.
    cloud: { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', accountId: '123456789012' },
    onLog: () => {},
    initTimeoutMs: 60_000,
    ...options,
  });
  try {
    return await work(runner);
  } finally {
    await runner.stop();
  }
}

describe('prewarmed execution environments', { timeout: 120_000 }, () => {
  it('starts an environment at registration, so the first invocation is warm and provisioned', async () => {
    await withRunner({ prewarm: 1 }, async (runner) => {
      runner.register(definition('warm'));
      await runner.warmed();

      const result = await runner.invoke('warm', {});

      expect(result).toMatchObject({
        ok: true,
        coldStart: false,
        payload: { initType: 'provisioned-concurrency' },
      });
      expect(runner.stats('warm')).toMatchObject({ prewarmed: 1, coldStarts: 0, environments: 1 });
    });
  });

  it('starts nothing ahead without the prewarm option, and on-demand environments say so', async () => {
    await withRunner({}, async (runner) => {
      runner.register(definition('lazy'));
      await runner.warmed();

      expect(runner.stats('lazy')).toMatchObject({ prewarmed: 0, environments: 0 });
      const result = await runner.invoke('lazy', {});
      expect(result).toMatchObject({ ok: true, coldStart: true, payload: { initType: 'on-demand' } });
    });
  });

  it('lets an invocation that arrives during the load take the loading environment instead of starting another', async () => {
    await withRunner({ prewarm: 1 }, async (runner) => {
      runner.register(definition('slow', { handler: 'slow.handler' }));

      const result = await runner.invoke('slow', {});

      expect(result).toMatchObject({
        ok: true,
        coldStart: true,
        payload: { initType: 'provisioned-concurrency' },
      });
      expect(runner.stats('slow')).toMatchObject({ prewarmed: 1, coldStarts: 1, environments: 1 });
    });
  });

  it('prewarms no more environments than the function may run at once, and none under reserved concurrency 0', async () => {
    await withRunner({ prewarm: 3, defaultConcurrency: 2 }, async (runner) => {
      runner.register(definition('capped'));
      runner.register(definition('throttled', { reservedConcurrency: 0 }));
      await runner.warmed();

      expect(runner.stats('capped')).toMatchObject({ prewarmed: 2, environments: 2 });
      expect(runner.stats('throttled')).toMatchObject({ prewarmed: 0, environments: 0 });
    });
  });

  it('drops a prewarmed environment whose init fails, and the first invocation reports the init error', async () => {
    await withRunner({ prewarm: 1 }, async (runner) => {
      runner.register(definition('broken', { handler: 'missing.handler' }));
      await runner.warmed();

      expect(runner.stats('broken').environments).toBe(0);
      const result = await runner.invoke('broken', {});
      expect(result).toMatchObject({
        ok: false,
        coldStart: true,
        error: { errorType: 'Runtime.ImportModuleError' },
      });
    });
  });
});

describe('queue activity hints', () => {
  const sqs = (operation: string, requestBody: string, status = 200) => ({
    service: 'sqs',
    operation,
    status,
    requestBody,
  });

  it('names the queue of an SQS send or visibility change, in the JSON and the query protocol', () => {
    const url = 'http://127.0.0.1:4566/123456789012/plugboard-local-intake-pre-inbox';

    expect(arrivalOf(sqs('SendMessage', JSON.stringify({ QueueUrl: url, MessageBody: '{}' })))).toBe(url);
    expect(arrivalOf(sqs('SendMessageBatch', JSON.stringify({ QueueUrl: url, Entries: [] })))).toBe(url);
    expect(arrivalOf(sqs('ChangeMessageVisibility', JSON.stringify({ QueueUrl: url })))).toBe(url);
    expect(
      arrivalOf(sqs('SendMessage', `Action=SendMessage&QueueUrl=${encodeURIComponent(url)}&MessageBody=x`)),
    ).toBe(url);
  });

  it('wakes every queue on an SNS publish, and nothing on reads or failed requests', () => {
    const url = 'http://127.0.0.1:4566/123456789012/q';

    expect(arrivalOf({ service: 'sns', operation: 'Publish', status: 200, requestBody: '' })).toBe('*');
    expect(arrivalOf(sqs('ReceiveMessage', JSON.stringify({ QueueUrl: url })))).toBeUndefined();
    expect(arrivalOf(sqs('SendMessage', JSON.stringify({ QueueUrl: url }), 400))).toBeUndefined();
    expect(
      arrivalOf({ service: 'dynamodb', operation: 'PutItem', status: 200, requestBody: url }),
    ).toBeUndefined();
  });

  it('resolves a wait on the queue it names, by URL or name, and times out otherwise', async () => {
    const activity = new QueueActivity();
    const url = 'http://127.0.0.1:4566/123456789012/inbox';

    const woken = activity.wait(url, 10_000);
    activity.notify('other');
    activity.notify('http://127.0.0.1:9999/123456789012/inbox');
    const all = activity.wait('inbox', 10_000);
    activity.notify();
    const idle = activity.wait('inbox', 20);

    expect(queueNameOf(url)).toBe('inbox');
    await expect(woken).resolves.toBe(true);
    await expect(all).resolves.toBe(true);
    await expect(idle).resolves.toBe(false);
    expect(activity.waitingQueues()).toEqual([]);
  });

  it('ends a wait when its signal aborts', async () => {
    const activity = new QueueActivity();
    const abort = new AbortController();

    const waiting = activity.wait('inbox', 10_000, abort.signal);
    abort.abort();

    await expect(waiting).resolves.toBe(false);
  });
});

describe('the runtime-provided module hook', () => {
  it('is needed for bundles that import @aws-sdk or @smithy packages', () => {
    expect(importsRuntimeProvided('import { SQSClient } from "@aws-sdk/client-sqs";')).toBe(true);
    expect(importsRuntimeProvided('import{S}from"@aws-sdk/client-sqs";')).toBe(true);
    expect(importsRuntimeProvided('const m = await import("@smithy/types");')).toBe(true);
    expect(importsRuntimeProvided('x();\nimport "@aws-sdk/signature-v4-crt";')).toBe(true);
  });

  it('is not needed for bundles that only mention such imports in text or require them', () => {
    expect(
      importsRuntimeProvided(
        'throw new Error(\'call [require("@aws-sdk/signature-v4-crt");] or [import "@aws-sdk/signature-v4-crt";]\');',
      ),
    ).toBe(false);
    expect(importsRuntimeProvided('const { SQSClient } = require("@aws-sdk/client-sqs");')).toBe(false);
    expect(importsRuntimeProvided('export const handler = async () => 42;')).toBe(false);
  });
});
