import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE_LAYOUT } from '../plugin-kit/src/contracts/index.js';

/**
 * What the engine does with the status table. Deliberately no `Scan` and no table management: the
 * engine reads runs with `Query` (on the table and both indexes) and writes single items or
 * transactions (which need the per-item actions listed here).
 */
export const ENGINE_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;

/** What the registrar calls (`lambdas/adapters/dynamo-registry.ts`: put, removeOwned, the owner read). */
export const REGISTRY_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
] as const;

/** Read-only access (e.g. for the plugin kit's status look-ups and operators' tools). */
export const READ_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'] as const;

export interface StatusTableProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Whether the table refuses to be deleted until this is turned off.
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/**
 * The single DynamoDB table that holds runs, stages, plugin executions and the plugin registry, laid
 * out exactly as `TABLE_LAYOUT` says: `pk`/`sk`, the sparse `active` index and the `runs` index (both
 * projecting keys only, so stage transitions do not rewrite index entries), TTL on `expiresAt`. On demand, point-in-time recovery on, encrypted with
 * the AWS-managed DynamoDB key (ADR 0003).
 */
export class StatusTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: StatusTableProps = {}) {
    super(scope, id);
    const { partitionKey, sortKey, ttlAttribute, activeIndex, runsIndex } = TABLE_LAYOUT;
    this.table = new Table(this, 'Table', {
      partitionKey: { name: partitionKey, type: AttributeType.STRING },
      sortKey: { name: sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: ttlAttribute,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of [activeIndex, runsIndex]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType[index.projection],
      });
    }
  }

  /** ARNs of the table and of each of its indexes by name (no `index/*` wildcard). */
  static resourceArns(table: ITable): string[] {
    const { activeIndex, runsIndex } = TABLE_LAYOUT;
    return [
      table.tableArn,
      `${table.tableArn}/index/${activeIndex.name}`,
      `${table.tableArn}/index/${runsIndex.name}`,
    ];
  }

  /** Grants what the engine needs ({@link ENGINE_TABLE_ACTIONS}) on `table` and its indexes. */
  static grantEngineAccess(table: ITable, grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: [...ENGINE_TABLE_ACTIONS],
      resourceArns: StatusTable.resourceArns(table),
    });
  }

  /**
   * Grants what the registrar calls ({@link REGISTRY_TABLE_ACTIONS}: conditional put and delete of a
   * registration, and a read of its owner when a condition fails) on the table only, no index.
   */
  static grantRegistryAccess(table: ITable, grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: [...REGISTRY_TABLE_ACTIONS],
      resourceArns: [table.tableArn],
    });
  }

  /** Grants read-only access ({@link READ_TABLE_ACTIONS}) on `table` and its indexes. */
  static grantReadStatus(table: ITable, grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: [...READ_TABLE_ACTIONS],
      resourceArns: StatusTable.resourceArns(table),
    });
  }
}
