/**
 * `plugboard plugins`: the plugin registry of the deployment, per activity stage in dispatch order.
 * It shows what the registry holds (no run data): reading the latest plugin record of every active run
 * to derive a "last seen" would cost a query per run, so it is left to `status` and the dashboard.
 */
import { isMandatoryFor, STAGE_NAMES, type StageName } from '../../../lambdas/contracts/index.js';
import type { Registration } from '../../../lambdas/engine/records.js';
import { DeploymentError, EXIT } from '../errors.js';
import { truncate } from '../format.js';
import type { Registrar } from '../main.js';
import { paint, table } from '../output.js';
import { parseStageName } from '../parse.js';

interface PluginsOptions {
  readonly activity?: string;
  readonly stageName?: string;
}

export interface PluginRow {
  readonly activity: string;
  readonly stage: StageName;
  readonly plugin: string;
  readonly mandatory: boolean;
  readonly order: number;
  readonly deadlineSeconds?: number;
  readonly maxAttempts?: number;
  readonly filterPolicy?: Record<string, unknown>;
  readonly filterPolicyScope: string;
  readonly functionArn?: string;
  readonly description?: string;
}

export function pluginRow(registration: Registration): PluginRow {
  const { info } = registration;
  return {
    activity: registration.activity,
    stage: registration.stage,
    plugin: info.name,
    mandatory: isMandatoryFor(info, registration.activity),
    order: info.order,
    ...(info.deadlineSeconds !== undefined ? { deadlineSeconds: info.deadlineSeconds } : {}),
    ...(info.maxAttempts !== undefined ? { maxAttempts: info.maxAttempts } : {}),
    ...(registration.filterPolicy ? { filterPolicy: registration.filterPolicy } : {}),
    filterPolicyScope: registration.filterPolicyScope,
    ...(registration.functionArn ? { functionArn: registration.functionArn } : {}),
    ...(info.description ? { description: info.description } : {}),
  };
}

export function registerPlugins({ program, run }: Registrar): void {
  program
    .command('plugins')
    .description(
      'List the registered plugins: mandatory or optional for the activity, order, filter, deadline, attempts.',
    )
    .option('--activity <name>', 'one activity (default: every deployed activity)')
    .option(
      '--stage-name <stage>',
      'one stage of the activity: pre, parallel or post (--stage is the deployment stage)',
    )
    .addHelpText(
      'after',
      `
"default" deadline/attempts means the activity's setting in plugboard.config.ts applies.

Example:
  $ npx plugboard plugins --activity fulfilment
  ACTIVITY    STAGE     ORDER  PLUGIN         MANDATORY  DEADLINE  ATTEMPTS  FILTER
  fulfilment  parallel  90     charge-card    mandatory  120s      3         {"channel":["web"]}
  fulfilment  parallel  90     reserve-stock  mandatory  default   default   -`,
    )
    .action(
      run<PluginsOptions>(async (ctx, _args, options) => {
        const stages = options.stageName ? [parseStageName(options.stageName)] : [...STAGE_NAMES];
        const deployment = await ctx.deployment();
        const activities = options.activity ? [options.activity] : deployment.activities();
        if (activities.length === 0) {
          throw new DeploymentError(
            `No activities found in the exports of ${deployment.ref.systemName}-${deployment.ref.stage}; pass --activity <name>.`,
          );
        }
        const rows: PluginRow[] = [];
        for (const activity of activities) {
          for (const stage of stages) {
            const registrations = await deployment.registry.list(activity, stage);
            rows.push(
              ...registrations
                .map(pluginRow)
                .sort((a, b) => a.order - b.order || a.plugin.localeCompare(b.plugin)),
            );
          }
        }
        if (ctx.out.json) {
          ctx.out.data({ plugins: rows });
          return EXIT.ok;
        }
        if (rows.length === 0) {
          ctx.out.line(
            `No plugins registered in ${activities.join(', ')}${options.stageName ? ` (${options.stageName})` : ''}.`,
          );
          return EXIT.ok;
        }
        const lines = table([
          ['ACTIVITY', 'STAGE', 'ORDER', 'PLUGIN', 'MANDATORY', 'DEADLINE', 'ATTEMPTS', 'FILTER'],
          ...rows.map((r) => [
            r.activity,
            r.stage,
            String(r.order),
            r.plugin,
            r.mandatory ? paint(ctx.out.color, 'bold', 'mandatory') : 'optional',
            r.deadlineSeconds === undefined ? 'default' : `${r.deadlineSeconds}s`,
            r.maxAttempts === undefined ? 'default' : String(r.maxAttempts),
            r.filterPolicy
              ? truncate(
                  `${r.filterPolicyScope === 'MessageBody' ? 'body ' : ''}${JSON.stringify(r.filterPolicy)}`,
                  60,
                )
              : '-',
          ]),
        ]);
        for (const line of lines) ctx.out.line(line);
        return EXIT.ok;
      }),
    );
}
