/**
 * The public API of the package, pinned: runtime export names (fails at test time) and types
 * (fails `npm run typecheck --workspace plugin-kit`), so a breaking change cannot slip through.
 */
import type { Context, SNSEvent, SQSEvent } from 'aws-lambda';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { OrchestratorPluginProps, OrchestratorQueuePluginProps } from '../src/cdk/index.js';
import * as cdk from '../src/cdk/index.js';
import * as kit from '../src/index.js';
import {
  type AnyPluginInfoInput,
  type ComponentState,
  createStatusReader,
  getOrchestratorSqsPassthrough,
  isOrchestratorError,
  isPluginError,
  type LambdaContextLike,
  type OrchestratorComponentState,
  type OrchestratorError,
  orchestratorWrapperSns,
  orchestratorWrapperSqs,
  type PluginContext,
  type PluginError,
  type PluginHandler,
  type PluginInfo,
  type PluginInfoInput,
  type PluginMessage,
  type PluginState,
  type PluginStatus,
  type PredecessorPluginInfo,
  type QueueBridgeHandler,
  type Report,
  type SnsPluginHandler,
  type SqsBatchResponse,
  type SqsPluginHandler,
  type StageName,
  type TaskOutcome,
} from '../src/index.js';
import type { PluginRun, runPlugin } from '../src/testing/index.js';
import * as testing from '../src/testing/index.js';

describe('public API: runtime exports', () => {
  it('exports the runtime entry points from the package root', () => {
    const names = Object.keys(kit);

    expect(names).toEqual(
      expect.arrayContaining([
        'orchestratorWrapperSns',
        'orchestratorWrapperSqs',
        'getOrchestratorSqsPassthrough',
        'createStatusReader',
        'OrchestratorComponentState',
        'OrchestratorError',
        'PluginError',
        'isOrchestratorError',
        'isPluginError',
        'isPluginKitError',
        'pluginInfoSchema',
        'pluginMessageSchema',
        'reportSchema',
        'LIMITS',
        'EXPORTS',
        'jsonLogger',
        'sqsMessageSender',
        'dynamoDbStatusStore',
        'fifoDeduplicationId',
        'definePluginInfo',
        'readPluginInfo',
        'parsePluginInfo',
      ]),
    );
  });

  it('keeps the CDK constructs out of the package root and in ./cdk', () => {
    expect(Object.keys(kit)).not.toContain('OrchestratorPlugin');
    expect(Object.keys(cdk)).toEqual(
      expect.arrayContaining([
        'OrchestratorPlugin',
        'OrchestratorQueuePlugin',
        'PluginFunction',
        'targetedFilterPolicy',
      ]),
    );
  });

  it('exports the harness and fakes from ./testing', () => {
    expect(Object.keys(testing)).toEqual(
      expect.arrayContaining([
        'runPlugin',
        'createPluginMessage',
        'snsEvent',
        'sqsEvent',
        'initializeEvent',
        'InMemoryInbox',
        'InMemoryStatusTable',
        'recordingLogger',
      ]),
    );
  });

  it('names every state with OrchestratorComponentState', () => {
    expect(Object.values(kit.OrchestratorComponentState).sort()).toEqual(Object.values(kit.STATES).sort());
  });
});

describe('public API: types', () => {
  it('types the wrappers', () => {
    expectTypeOf(orchestratorWrapperSns).parameter(0).toEqualTypeOf<AnyPluginInfoInput>();
    expectTypeOf<PluginInfoInput>().toExtend<AnyPluginInfoInput>();
    expectTypeOf<PredecessorPluginInfo>().toExtend<AnyPluginInfoInput>();
    expectTypeOf(orchestratorWrapperSns<{ score: number }>)
      .parameter(1)
      .toEqualTypeOf<PluginHandler<{ score: number }>>();
    expectTypeOf(orchestratorWrapperSns).returns.toEqualTypeOf<SnsPluginHandler>();
    expectTypeOf(orchestratorWrapperSqs).returns.toEqualTypeOf<SqsPluginHandler>();
    expectTypeOf(getOrchestratorSqsPassthrough).returns.toEqualTypeOf<QueueBridgeHandler>();
    expectTypeOf(getOrchestratorSqsPassthrough).parameter(1).toEqualTypeOf<string | undefined>();
  });

  it('gives a handler the typed message and context', () => {
    expectTypeOf<Parameters<PluginHandler>[0]>().toEqualTypeOf<PluginMessage>();
    expectTypeOf<Parameters<PluginHandler>[1]>().toEqualTypeOf<PluginContext>();
    expectTypeOf<PluginMessage['stage']>().toEqualTypeOf<StageName>();
    expectTypeOf<PluginMessage['metadata']>().toEqualTypeOf<Record<string, unknown>>();
    expectTypeOf<PluginContext['attempt']>().toEqualTypeOf<number>();
    expectTypeOf<PluginContext['deadline']>().toEqualTypeOf<Date | undefined>();
    expectTypeOf<PluginContext['mandatory']>().toEqualTypeOf<boolean>();
  });

  it('accepts the aws-lambda event and context types', () => {
    expectTypeOf<SNSEvent>().toExtend<Parameters<SnsPluginHandler>[0]>();
    expectTypeOf<SNSEvent>().toExtend<Parameters<QueueBridgeHandler>[0]>();
    expectTypeOf<SQSEvent>().toExtend<Parameters<SqsPluginHandler>[0]>();
    expectTypeOf<Context>().toExtend<LambdaContextLike>();
    expectTypeOf<ReturnType<SqsPluginHandler>>().toEqualTypeOf<Promise<SqsBatchResponse | PluginInfo>>();
    expectTypeOf<ReturnType<SnsPluginHandler>>().toEqualTypeOf<Promise<PluginInfo | undefined>>();
  });

  it('exposes the parsed PluginInfo on every wrapped handler', () => {
    expectTypeOf<SnsPluginHandler['info']>().toEqualTypeOf<PluginInfo>();
    expectTypeOf<SnsPluginHandler['withOptions']>().returns.toEqualTypeOf<SnsPluginHandler>();
    expectTypeOf<PluginInfo['default']['mandatory']>().toEqualTypeOf<boolean>();
    expectTypeOf<PluginInfo['idempotent']>().toEqualTypeOf<boolean>();
    expectTypeOf<PluginInfoInput['idempotent']>().toEqualTypeOf<boolean | undefined>();
  });

  it('narrows with the branded checks', () => {
    const error: unknown = new kit.OrchestratorError('x');
    if (isOrchestratorError(error)) expectTypeOf(error).toEqualTypeOf<OrchestratorError>();
    if (isPluginError(error)) expectTypeOf(error.retryable).toEqualTypeOf<boolean>();
    expectTypeOf<OrchestratorError>().toExtend<PluginError>();
    expectTypeOf<OrchestratorComponentState>().toEqualTypeOf<ComponentState>();
  });

  it('types the status reader and the outcomes', () => {
    expectTypeOf(createStatusReader().getPlugin).returns.resolves.toEqualTypeOf<PluginStatus | undefined>();
    expectTypeOf<PluginStatus['state']>().toEqualTypeOf<PluginState>();
    expectTypeOf<TaskOutcome['type']>().toEqualTypeOf<
      'completed' | 'failed' | 'forwarded' | 'skipped' | 'ignored' | 'undelivered'
    >();
    expectTypeOf<Report['status']>().toEqualTypeOf<'In Progress' | 'Complete' | 'Error'>();
  });

  it('types the harness and the construct props', () => {
    expectTypeOf<ReturnType<typeof runPlugin>>().toEqualTypeOf<Promise<PluginRun>>();
    expectTypeOf<PluginRun['statuses']>().toEqualTypeOf<readonly Report['status'][]>();
    expectTypeOf<OrchestratorPluginProps['activityStage']>().toEqualTypeOf<StageName>();
    expectTypeOf<OrchestratorPluginProps['info']>().toEqualTypeOf<AnyPluginInfoInput | undefined>();
    expectTypeOf<OrchestratorQueuePluginProps['fifo']>().toEqualTypeOf<boolean | undefined>();
  });
});
