/**
 * The EventBridge bus that carries Plugboard's lifecycle events when `events.eventBridge` is on: the
 * account's default bus (`'default'`) or one of the deployment's own (`'create'`,
 * `<system>-<stage>-events`). The orchestrators may put events on this bus only, and only with the
 * deployment's source (`plugboard.<system>`), so no other producer can be impersonated on it.
 */
import { Fn } from 'aws-cdk-lib';
import { EventBus, type IEventBus } from 'aws-cdk-lib/aws-events';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type DeploymentRef, EXPORTS, eventBusName, eventSource } from '../plugin-kit/src/contracts/index.js';
import type { EventBridgeMode } from './config/events-config.js';
import { ENV } from './orchestrator-environment.js';

export interface LifecycleEventBusProps {
  readonly deployment: DeploymentRef;
  /** `'default'`: the account's default bus; `'create'`: a bus named `<system>-<stage>-events`. */
  readonly mode: EventBridgeMode;
}

/** What orchestrators need of the bus: where to put events, and the right to. */
export interface ILifecycleEventBus {
  readonly eventBus: IEventBus;
  /** `source` of every lifecycle event: `plugboard.<system>`. */
  readonly source: string;
  /** `events:PutEvents` on this bus, for entries whose source is {@link source} only. */
  grantPutEvents(grantee: IGrantable): void;
  /** The variables the handlers read to reach the bus. */
  environment(): Record<string, string>;
}

export class LifecycleEventBus extends Construct implements ILifecycleEventBus {
  /**
   * The bus of a deployment, from the core stack's exports (for activity stacks, which depend on
   * core only through its exports).
   */
  static fromExports(scope: Construct, id: string, deployment: DeploymentRef): ILifecycleEventBus {
    const bus = EventBus.fromEventBusAttributes(scope, id, {
      eventBusName: Fn.importValue(EXPORTS.eventBusName(deployment)),
      eventBusArn: Fn.importValue(EXPORTS.eventBusArn(deployment)),
      eventBusPolicy: '',
    });
    return new ImportedLifecycleEventBus(bus, eventSource(deployment));
  }

  readonly eventBus: IEventBus;
  readonly source: string;

  constructor(scope: Construct, id: string, props: LifecycleEventBusProps) {
    super(scope, id);
    const d = props.deployment;
    this.source = eventSource(d);
    this.eventBus =
      props.mode === 'create'
        ? new EventBus(this, 'Bus', {
            eventBusName: eventBusName(d),
            description: `Plugboard ${d.systemName}-${d.stage}: run lifecycle events (source ${this.source})`,
          })
        : EventBus.fromEventBusName(this, 'Bus', 'default');
  }

  grantPutEvents(grantee: IGrantable): void {
    grantPutLifecycleEvents(grantee, this.eventBus, this.source);
  }

  environment(): Record<string, string> {
    return busEnvironment(this.eventBus, this.source);
  }
}

class ImportedLifecycleEventBus implements ILifecycleEventBus {
  constructor(
    readonly eventBus: IEventBus,
    readonly source: string,
  ) {}

  grantPutEvents(grantee: IGrantable): void {
    grantPutLifecycleEvents(grantee, this.eventBus, this.source);
  }

  environment(): Record<string, string> {
    return busEnvironment(this.eventBus, this.source);
  }
}

function grantPutLifecycleEvents(grantee: IGrantable, bus: IEventBus, source: string): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['events:PutEvents'],
      resources: [bus.eventBusArn],
      // `events:source` is a multivalued key (ArrayOfString in the service authorization reference):
      // every source of the request must be ours, and a request without one is not allowed.
      conditions: {
        'ForAllValues:StringEquals': { 'events:source': [source] },
        Null: { 'events:source': 'false' },
      },
    }),
  );
}

function busEnvironment(bus: IEventBus, source: string): Record<string, string> {
  return { [ENV.eventBusName]: bus.eventBusName, [ENV.eventSource]: source };
}
