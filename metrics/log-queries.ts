/**
 * Saved CloudWatch Logs Insights queries of one Plugboard deployment (Logs Insights → Saved queries,
 * in the folder `<system>-<stage>`): one run by uid, one per workflow, and the errors and warnings.
 * The handlers log one JSON line per event (Powertools), with `workflow`, `uid`, `activity`, `stage`
 * and `plugin` as fields, so the queries filter on fields rather than on text.
 */
import { type ILogGroup, LogGroup, QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface PlugboardLogQueriesProps {
  /** Folder of the saved queries in the console, e.g. `plugboard-dev`. */
  readonly folder: string;
  /** One "workflow" query each. */
  readonly workflows: readonly string[];
  /**
   * Log groups the queries search (the orchestrators' and the start function's).
   * @default - none preselected: pick the `<system>-<stage>` functions' log groups when running a query
   */
  readonly logGroupNames?: readonly string[];
}

/** The placeholder of the uid query: replace it with the run's uid before running the query. */
export const UID_PLACEHOLDER = 'REPLACE-WITH-UID';

const FIELDS = ['@timestamp', 'level', 'message', 'workflow', 'uid', 'activity', 'stage', 'plugin', '@log'];

export class PlugboardLogQueries extends Construct {
  /** Saved query names, by purpose (`run`, `errors`, `workflow:<name>`). */
  readonly names: ReadonlyMap<string, string>;
  readonly byUid: QueryDefinition;
  readonly errors: QueryDefinition;
  readonly byWorkflow: ReadonlyMap<string, QueryDefinition>;

  constructor(scope: Construct, id: string, props: PlugboardLogQueriesProps) {
    super(scope, id);
    const logGroups: ILogGroup[] = (props.logGroupNames ?? []).map((name, i) =>
      LogGroup.fromLogGroupName(this, `LogGroup${i}`, name),
    );
    const names = new Map<string, string>();
    const define = (key: string, constructId: string, title: string, query: QueryString) => {
      const queryDefinitionName = `${props.folder}/${title}`;
      names.set(key, queryDefinitionName);
      return new QueryDefinition(this, constructId, {
        queryDefinitionName,
        queryString: query,
        ...(logGroups.length > 0 ? { logGroups } : {}),
      });
    };

    this.byUid = define(
      'run',
      'RunByUid',
      'one run by uid',
      new QueryString({
        fields: FIELDS,
        filterStatements: [`uid = "${UID_PLACEHOLDER}"`],
        sort: '@timestamp asc',
        limit: 1000,
      }),
    );
    this.errors = define(
      'errors',
      'Errors',
      'errors and warnings',
      new QueryString({
        fields: [...FIELDS, 'reason', 'error'],
        filterStatements: ['level = "ERROR" or level = "WARN"'],
        sort: '@timestamp desc',
        limit: 500,
      }),
    );
    const byWorkflow = new Map<string, QueryDefinition>();
    props.workflows.forEach((workflow, i) => {
      byWorkflow.set(
        workflow,
        define(
          `workflow:${workflow}`,
          `Workflow${i}`,
          `workflow ${workflow}`,
          new QueryString({
            fields: FIELDS,
            filterStatements: [`workflow = "${workflow.replace(/["\\]/g, (c) => `\\${c}`)}"`],
            sort: '@timestamp desc',
            limit: 1000,
          }),
        ),
      );
    });
    this.byWorkflow = byWorkflow;
    this.names = names;
  }
}
