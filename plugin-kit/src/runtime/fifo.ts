import { createHash } from 'node:crypto';
import type { PluginInfo, PluginMessage } from '../contracts/index.js';

/** Whether an SQS queue URL names a FIFO queue. */
export const isFifoQueueUrl = (queueUrl: string): boolean => queueUrl.endsWith('.fifo');

/**
 * The FIFO `MessageGroupId` the queue bridge uses: `info.fifoKey` when set (one group: strictly one
 * message at a time), otherwise the run's uid (messages of one run stay in order).
 */
export function fifoMessageGroupId(
  info: Pick<PluginInfo, 'fifoKey'>,
  message: Pick<PluginMessage, 'uid'>,
): string {
  return info.fifoKey ?? message.uid;
}

/**
 * A deterministic FIFO `MessageDeduplicationId` for one plugin execution attempt: the SHA-256 (64 hex
 * characters, within SQS's 128) of workflow, uid, generation, activity, stage, plugin and attempt. A
 * duplicate SNS delivery within SQS's five-minute window is dropped by the queue.
 */
export function fifoDeduplicationId(
  message: Pick<PluginMessage, 'workflow' | 'uid' | 'generation' | 'activity' | 'stage' | 'attempt'>,
  plugin: string,
): string {
  const identity = JSON.stringify([
    message.workflow,
    message.uid,
    message.generation,
    message.activity,
    message.stage,
    plugin,
    message.attempt,
  ]);
  return createHash('sha256').update(identity).digest('hex');
}
