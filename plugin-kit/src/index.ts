/**
 * `@plugboard/plugin-kit`: build Plugboard plugins. The runtime API (wrappers, queue bridge, errors,
 * status reader) and the plugin contracts. The CDK constructs are in `@plugboard/plugin-kit/cdk`, the
 * test harness in `@plugboard/plugin-kit/testing`.
 */
export * from './contracts/index.js';
export * from './runtime/component-state.js';
export * from './runtime/dynamodb-status-store.js';
export * from './runtime/errors.js';
export type {
  InitializeEvent,
  LambdaContextLike,
  SnsEventLike,
  SnsRecordLike,
  SqsBatchResponse,
  SqsEventLike,
  SqsMessageAttributeLike,
  SqsRecordLike,
} from './runtime/events.js';
export * from './runtime/fifo.js';
export * from './runtime/logger.js';
export {
  type AnyPluginInfoInput,
  definePluginInfo,
  type PluginInfoReading,
  type PredecessorPluginDefaults,
  type PredecessorPluginInfo,
  parsePluginInfo,
  readPluginInfo,
} from './runtime/plugin-info.js';
export * from './runtime/ports.js';
export * from './runtime/queue-bridge.js';
export * from './runtime/sqs-message-sender.js';
export {
  createStatusReader,
  type PluginStatus,
  type PluginStatusKey,
  type StatusReader,
  type StatusReaderOptions,
} from './runtime/status-reader.js';
export * from './runtime/types.js';
export { orchestratorWrapperSns } from './runtime/wrapper-sns.js';
export * from './runtime/wrapper-sqs.js';
