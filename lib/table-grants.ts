import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { TABLE_LAYOUT } from '../plugin-kit/src/contracts/index.js';

/** The engine functions that use the status table, each with its own grant. */
export type TableUser = 'start' | 'stage' | 'sweeper' | 'registrar' | 'api';

/** What one function may do on the table itself and on each index (by index name). */
export interface TableAccess {
  readonly table: readonly string[];
  readonly indexes: Readonly<Record<string, readonly string[]>>;
}

const { activeIndex, runsIndex } = TABLE_LAYOUT;

/**
 * What each function's code calls on the status table: the calls the local cloud recorded while the
 * example workflow and the integration scenarios ran (test/cdk/fixtures/iam-calls.json), plus the
 * code paths those scenarios do not reach, each named below. test/cdk/iam-simulation.test.ts checks
 * that every recorded call is allowed and that no grant is unused without a written reason.
 * Transactions (`TransactWriteItems`) are authorized per item: the engine's are updates only.
 */
export const TABLE_ACCESS: Readonly<Record<TableUser, TableAccess>> = {
  // Creates the run, its first stage and plugin items, reads the registry, hands off the first stage.
  start: {
    table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    indexes: {},
  },
  // Applies reports and commands: conditional puts and updates (also inside transactions), reads of a
  // run's items and of the registry.
  stage: {
    table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    indexes: {},
  },
  // Lists active runs on the `active` index, reads them (BatchGetItem, Query of a run's items) and
  // claims timeouts with conditional updates.
  sweeper: {
    table: ['dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem'],
    indexes: { [activeIndex.name]: ['dynamodb:Query'] },
  },
  // Conditional put and delete of a registration, and the read of its owner when a condition fails.
  registrar: {
    table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
    indexes: {},
  },
  // Reads runs, lists them (`runs` index; `active` for state=In Progress), and the operator's
  // conditional updates (cancel, skip).
  api: {
    table: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    indexes: { [activeIndex.name]: ['dynamodb:Query'], [runsIndex.name]: ['dynamodb:Query'] },
  },
};

/** Grants `user`'s {@link TABLE_ACCESS} on `table`: one statement for the table, one per index. */
export function grantTableAccess(table: ITable, grantee: IGrantable, user: TableUser): void {
  const access = TABLE_ACCESS[user];
  Grant.addToPrincipal({ grantee, actions: [...access.table], resourceArns: [table.tableArn] });
  for (const [index, actions] of Object.entries(access.indexes)) {
    Grant.addToPrincipal({
      grantee,
      actions: [...actions],
      resourceArns: [`${table.tableArn}/index/${index}`],
    });
  }
}
