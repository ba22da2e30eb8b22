/**
 * `plugboard plugins`: the plugin registry of the deployment, per activity stage in dispatch order,
 * with each plugin's last report and liveness. Those come from the metrics the stage orchestrators
 * emit (CloudWatch, one GetMetricData batch for every plugin: see ../plugin-health.ts), not from run
 * records: the latest plugin record of every active run would cost a query per run. When CloudWatch
 * cannot be read the registry is still printed, and stderr says why.
 */
import { isMandatoryFor, STAGE_NAMES, type StageName } from '../../../lambdas/contracts/index.js';
import type { Registration } from '../../../lambdas/engine/records.js';
import { DEFAULT_INACTIVE_MINUTES, DEFAULT_STUCK_MINUTES } from '../../../metrics/names.js';
import { DeploymentError, EXIT, UsageError } from '../errors.js';
import { truncate } from '../format.js';
import type { Registrar } from '../main.js';
import { paint, type Style, table } from '../output.js';
import { parsePositiveInt, parseStageName } from '../parse.js';
import {
  countMinutesOf,
  formatAgo,
  type HealthSettings,
  livenessMeaning,
  MAX_WINDOW_MINUTES,
  metricsProblem,
  type PluginHealth,
  type PluginLiveness,
  readPluginHealth,
} from '../plugin-health.js';

interface PluginsOptions {
  readonly activity?: string;
  readonly stageName?: string;
  readonly window: string;
  readonly inactiveMinutes: string;
  readonly stuckMinutes: string;
}

/** The Overseer's liveness thresholds (ARCHITECTURE.md §7), as the metrics stack uses them. */
const DEFAULT_THRESHOLDS = { inactiveMinutes: DEFAULT_INACTIVE_MINUTES, stuckMinutes: DEFAULT_STUCK_MINUTES };
const DEFAULT_WINDOW_MINUTES = 1440;

/** `unknown`: CloudWatch could not be read. */
type ShownLiveness = PluginLiveness | 'unknown';

const LIVENESS_STYLE: Record<ShownLiveness, Style> = {
  live: 'green',
  inactive: 'yellow',
  offline: 'red',
  idle: 'dim',
  unknown: 'dim',
};

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

/** The liveness settings of the options; a bad combination is a usage error. */
export function healthSettings(
  options: Pick<PluginsOptions, 'window' | 'inactiveMinutes' | 'stuckMinutes'>,
): HealthSettings {
  const windowMinutes = parsePositiveInt(options.window, '--window', MAX_WINDOW_MINUTES);
  const inactiveMinutes = parsePositiveInt(options.inactiveMinutes, '--inactive-minutes', MAX_WINDOW_MINUTES);
  const stuckMinutes = parsePositiveInt(options.stuckMinutes, '--stuck-minutes', MAX_WINDOW_MINUTES);
  if (stuckMinutes <= inactiveMinutes) {
    throw new UsageError(
      `--stuck-minutes (${stuckMinutes}) must be more than --inactive-minutes (${inactiveMinutes}).`,
    );
  }
  if (windowMinutes < stuckMinutes) {
    throw new UsageError(
      `--window (${windowMinutes}) must be at least --stuck-minutes (${stuckMinutes}): a plugin is offline only when it has not reported for that long.`,
    );
  }
  return { windowMinutes, inactiveMinutes, stuckMinutes };
}

export function registerPlugins({ program, run }: Registrar): void {
  const meaning = livenessMeaning(DEFAULT_THRESHOLDS);
  program
    .command('plugins')
    .description(
      'List the registered plugins: mandatory or optional for the activity, order, filter, deadline, attempts, and when each last reported (liveness).',
    )
    .option('--activity <name>', 'one activity (default: every deployed activity)')
    .option(
      '--stage-name <stage>',
      'one stage of the activity: pre, parallel or post (--stage is the deployment stage)',
    )
    .option(
      '--window <minutes>',
      `how far back to look for a plugin's last report (max ${MAX_WINDOW_MINUTES})`,
      String(DEFAULT_WINDOW_MINUTES),
    )
    .option(
      '--inactive-minutes <n>',
      'a plugin without a report for this long is inactive',
      String(DEFAULT_THRESHOLDS.inactiveMinutes),
    )
    .option(
      '--stuck-minutes <n>',
      'a plugin without a report for this long is offline (or idle)',
      String(DEFAULT_THRESHOLDS.stuckMinutes),
    )
    .addHelpText(
      'after',
      `
"default" deadline/attempts means the activity's setting in plugboard.config.ts applies.

LAST SEEN is the plugin's latest report (Complete or Error; a timeout is not a report) within
--window, to the minute, from the metrics the stage orchestrators emit to CloudWatch
(needs cloudwatch:GetMetricData). LIVENESS (defaults shown):
  live      ${meaning.live}
  inactive  ${meaning.inactive}
  offline   ${meaning.offline}
  idle      ${meaning.idle}
  unknown   CloudWatch could not be read (stderr says why; the registry is still listed)
Traffic: another plugin of the stage reported (not counted for a plugin with a filter policy),
or this plugin timed out or was retried.
--json adds lastSeen, liveness and the reports, errors and timeouts of the last hour.

Example:
  $ npx plugboard plugins --activity fulfilment
  ACTIVITY    STAGE     ORDER  PLUGIN         MANDATORY  DEADLINE  ATTEMPTS  LAST SEEN  LIVENESS  FILTER
  fulfilment  parallel  90     charge-card    mandatory  120s      3         3m ago     live      {"channel":["web"]}
  fulfilment  parallel  90     reserve-stock  mandatory  default   default   26m ago    offline   -`,
    )
    .action(
      run<PluginsOptions>(async (ctx, _args, options) => {
        const stages = options.stageName ? [parseStageName(options.stageName)] : [...STAGE_NAMES];
        const settings = healthSettings(options);
        const deployment = await ctx.deployment();
        const activities = options.activity ? [options.activity] : deployment.activities();
        if (activities.length === 0) {
          const stage = deployment.ref.stage;
          throw new DeploymentError(
            (STAGE_NAMES as readonly string[]).includes(stage)
              ? `No deployment ${deployment.ref.systemName}-${stage}: --stage is the deployment stage (dev, prod…). For the activity stage "${stage}", use --stage-name ${stage}.`
              : `No activities found in the exports of ${deployment.ref.systemName}-${stage}; pass --activity <name>.`,
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
        const now = ctx.now();
        let health: readonly PluginHealth[] | undefined;
        let problem: string | undefined;
        try {
          health = await readPluginHealth(
            deployment.cloudwatch,
            deployment.ref,
            rows.map((r) => ({
              activity: r.activity,
              stage: r.stage,
              plugin: r.plugin,
              filtered: r.filterPolicy !== undefined,
            })),
            now,
            settings,
          );
        } catch (error) {
          problem = metricsProblem(error);
          ctx.out.error(`plugboard: ${problem}`);
        }
        const liveness = (i: number): ShownLiveness => health?.[i]?.liveness ?? 'unknown';
        if (ctx.out.json) {
          ctx.out.data({
            plugins: rows.map((r, i) => {
              const h = health?.[i];
              return {
                ...r,
                lastSeen: h?.lastSeen?.toISOString() ?? null,
                liveness: liveness(i),
                reports: h?.reports ?? null,
                errors: h?.errors ?? null,
                timeouts: h?.timeouts ?? null,
              };
            }),
            health: {
              at: now.toISOString(),
              windowMinutes: settings.windowMinutes,
              countMinutes: countMinutesOf(settings),
              inactiveMinutes: settings.inactiveMinutes,
              stuckMinutes: settings.stuckMinutes,
              ...(problem === undefined ? {} : { problem }),
            },
          });
          return EXIT.ok;
        }
        if (rows.length === 0) {
          ctx.out.line(
            `No plugins registered in ${activities.join(', ')}${options.stageName ? ` (${options.stageName})` : ''}.`,
          );
          return EXIT.ok;
        }
        const lastSeen = (i: number): string => {
          if (health === undefined) return '?';
          const seen = health[i]?.lastSeen;
          return seen === undefined ? '-' : formatAgo(seen, now);
        };
        const lines = table([
          [
            'ACTIVITY',
            'STAGE',
            'ORDER',
            'PLUGIN',
            'MANDATORY',
            'DEADLINE',
            'ATTEMPTS',
            'LAST SEEN',
            'LIVENESS',
            'FILTER',
          ],
          ...rows.map((r, i) => [
            r.activity,
            r.stage,
            String(r.order),
            r.plugin,
            r.mandatory ? paint(ctx.out.color, 'bold', 'mandatory') : 'optional',
            r.deadlineSeconds === undefined ? 'default' : `${r.deadlineSeconds}s`,
            r.maxAttempts === undefined ? 'default' : String(r.maxAttempts),
            lastSeen(i),
            paint(ctx.out.color, LIVENESS_STYLE[liveness(i)], liveness(i)),
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
