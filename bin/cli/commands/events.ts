/**
 * `plugboard events tail`: follows the lifecycle events of the deployment. A temporary SQS queue is
 * subscribed to the events topic (raw delivery) for as long as the command runs, and deleted on exit
 * (Ctrl-C, or after --for).
 */
import { randomBytes } from 'node:crypto';
import { SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
} from '@aws-sdk/client-sqs';
import { lifecycleEventSchema } from '../../../lambdas/contracts/index.js';
import type { CommandContext } from '../context.js';
import type { Deployment } from '../deployment.js';
import { EXIT } from '../errors.js';
import type { Registrar } from '../main.js';
import { paint } from '../output.js';
import { parseDuration } from '../parse.js';

interface TailOptions {
  readonly for?: string;
  readonly type?: readonly string[];
}

interface TailQueue {
  readonly url: string;
  readonly subscriptionArn?: string;
}

async function createTailQueue(deployment: Deployment, topicArn: string): Promise<TailQueue> {
  const name = `${deployment.ref.systemName}-${deployment.ref.stage}-cli-tail-${randomBytes(4).toString('hex')}`;
  const created = await deployment.sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: { MessageRetentionPeriod: '3600' } }),
  );
  const url = created.QueueUrl;
  if (!url) throw new Error(`CreateQueue ${name} returned no URL`);
  try {
    const attributes = await deployment.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
    );
    const queueArn = attributes.Attributes?.QueueArn ?? '';
    // Only the events topic may send to the queue.
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        },
      ],
    };
    await deployment.sqs.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: JSON.stringify(policy) } }),
    );
    const subscription = await deployment.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: queueArn,
        Attributes: { RawMessageDelivery: 'true' },
        ReturnSubscriptionArn: true,
      }),
    );
    return subscription.SubscriptionArn ? { url, subscriptionArn: subscription.SubscriptionArn } : { url };
  } catch (error) {
    await deployment.sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => undefined);
    throw error;
  }
}

async function removeTailQueue(deployment: Deployment, queue: TailQueue): Promise<void> {
  if (queue.subscriptionArn) {
    await deployment.sns
      .send(new UnsubscribeCommand({ SubscriptionArn: queue.subscriptionArn }))
      .catch(() => undefined);
  }
  await deployment.sqs.send(new DeleteQueueCommand({ QueueUrl: queue.url }));
}

function printEvent(ctx: CommandContext, body: string, types: ReadonlySet<string>): void {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    ctx.out.error(`(not JSON) ${body.slice(0, 200)}`);
    return;
  }
  const parsed = lifecycleEventSchema.safeParse(json);
  if (!parsed.success) {
    if (ctx.out.json) ctx.out.write(`${JSON.stringify(json)}\n`);
    else ctx.out.line(`(unrecognised event) ${body.slice(0, 200)}`);
    return;
  }
  const event = parsed.data;
  if (types.size > 0 && !types.has(event.type)) return;
  if (ctx.out.json) {
    ctx.out.write(`${JSON.stringify(event)}\n`);
    return;
  }
  const style = /failed|timed-out|cancelled/.test(event.type)
    ? 'red'
    : event.type === 'run.completed'
      ? 'green'
      : 'yellow';
  const where = [event.activity, event.stage, event.plugin].filter(Boolean).join('/');
  ctx.out.line(
    [
      event.at.slice(11, 19),
      paint(ctx.out.color, style, event.type.padEnd(16)),
      `${event.workflow}/${event.uid} g${event.generation}`,
      where,
      event.message ?? '',
    ]
      .filter(Boolean)
      .join('  '),
  );
}

export function registerEvents({ program, run }: Registrar): void {
  const events = program.command('events').description('Lifecycle events of the deployment.');
  events
    .command('tail')
    .description(
      'Print lifecycle events as they happen (a temporary SQS queue subscribed to the events topic; deleted on exit).',
    )
    .option('--for <duration>', 'stop after this long (default: until Ctrl-C)')
    .option('--type <type...>', 'only these event types (run.failed, plugin.timed-out...)')
    .addHelpText(
      'after',
      `
Example:
  $ npx plugboard events tail --type run.failed plugin.timed-out
  10:04:12  plugin.timed-out  order/order-1236 g1  fulfilment/parallel/charge-card
  10:04:13  run.failed        order/order-1236 g1  fulfilment/parallel/charge-card  fulfilment/parallel: charge-card: timed out`,
    )
    .action(
      run<TailOptions>(async (ctx, _args, options) => {
        const duration = options.for === undefined ? undefined : parseDuration(options.for, '--for');
        const types = new Set(options.type ?? []);
        const deployment = await ctx.deployment();
        const topicArn = deployment.eventsTopicArn;
        const queue = await createTailQueue(deployment, topicArn);
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const timer = duration === undefined ? undefined : setTimeout(onSignal, duration);
        ctx.out.error(`Following ${topicArn} (Ctrl-C to stop)…`);
        try {
          while (!stop.signal.aborted) {
            let messages: { Body?: string; ReceiptHandle?: string }[] = [];
            try {
              const received = await deployment.sqs.send(
                new ReceiveMessageCommand({
                  QueueUrl: queue.url,
                  MaxNumberOfMessages: 10,
                  WaitTimeSeconds: 2,
                }),
                { abortSignal: stop.signal },
              );
              messages = received.Messages ?? [];
            } catch (error) {
              if (stop.signal.aborted) break;
              throw error;
            }
            for (const message of messages) printEvent(ctx, message.Body ?? '', types);
            const handles = messages.flatMap((m, i) =>
              m.ReceiptHandle ? [{ Id: String(i), ReceiptHandle: m.ReceiptHandle }] : [],
            );
            if (handles.length > 0) {
              await deployment.sqs.send(
                new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: handles }),
              );
            }
          }
        } finally {
          if (timer) clearTimeout(timer);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await removeTailQueue(deployment, queue);
        }
        return EXIT.ok;
      }),
    );
}
