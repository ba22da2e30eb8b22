/**
 * `plugboard --local credentials <function>`: the local credentials of a function's execution role,
 * so that a test, a person or the AWS CLI can act as that function (and see what it may not do);
 * `--list` lists the functions with their role ARN and role id.
 */
import type { FunctionIdentity } from '../../../local/control-protocol.js';
import { EXIT, NotFoundError, UsageError } from '../errors.js';
import { controlFailure, localControl } from '../local-control.js';
import { loadLocalState } from '../local-state.js';
import type { Registrar } from '../main.js';

interface CredentialsOptions {
  readonly list?: boolean;
  readonly export?: boolean;
}

/**
 * The function a name means: the exact name, else the only one whose name contains it
 * (case-insensitive), so `validate-order` finds `plugboard-local-…-validateorderfn…` only when it is
 * unambiguous. Fails listing the candidates.
 */
export function pickFunction(functions: readonly FunctionIdentity[], wanted: string): FunctionIdentity {
  const exact = functions.find((f) => f.functionName === wanted);
  if (exact !== undefined) return exact;
  const needle = wanted.toLowerCase().replaceAll('-', '');
  const matches = functions.filter((f) => f.functionName.toLowerCase().replaceAll('-', '').includes(needle));
  if (matches.length === 1 && matches[0] !== undefined) return matches[0];
  const names = (matches.length > 1 ? matches : functions).map((f) => f.functionName).sort();
  throw new NotFoundError(
    matches.length > 1
      ? `"${wanted}" matches ${matches.length} functions: ${names.join(', ')}. Give more of the name.`
      : `No function "${wanted}" with its own role in the local cloud. Functions: ${names.join(', ') || 'none'}.`,
  );
}

export function registerCredentials({ program, run }: Registrar): void {
  program
    .command('credentials')
    .description("Print a local function's role credentials (to act as it), or --list the functions.")
    .argument('[function]', 'function name (or an unambiguous part of it)')
    .option('--list', 'list the functions with their role ARN and role id')
    .option('--export', 'print `export AWS_…=…` lines for a shell (eval "$(…)")')
    .addHelpText(
      'after',
      `
Works with the local cloud only (npm start -- --keep), where IAM is enforced: each function acts as its role.

Examples:
  $ npx plugboard --local credentials --list
  $ npx plugboard --local credentials validate-order --json
  $ eval "$(npx plugboard --local credentials validate-order --export)" && aws sqs list-queues`,
    )
    .action(
      run<CredentialsOptions>(async (ctx, [wanted], options) => {
        if (options.list !== true && wanted === undefined) {
          throw new UsageError(
            'name a function (npx plugboard --local credentials <function>) or pass --list',
          );
        }
        if (options.list === true && wanted !== undefined) {
          throw new UsageError('--list takes no function name');
        }
        const control = await localControl(ctx, 'credentials');
        const answer = await control.functions().catch((error: unknown) => {
          throw controlFailure(error);
        });
        if (!answer.iam) {
          ctx.out.error(
            'IAM is not enforced in this local cloud (--no-iam): every function uses the administrator dummy credentials.',
          );
        }
        if (options.list === true) {
          const rows = answer.functions
            .map(({ functionName, roleArn, roleId }) => ({ functionName, roleArn, roleId }))
            .sort((a, b) => a.functionName.localeCompare(b.functionName));
          if (ctx.out.json) {
            ctx.out.data(rows);
            return EXIT.ok;
          }
          const width = Math.max(8, ...rows.map((r) => r.functionName.length));
          ctx.out.line(`${'FUNCTION'.padEnd(width)}  ${'ROLE ID'.padEnd(21)}  ROLE ARN`);
          for (const row of rows)
            ctx.out.line(`${row.functionName.padEnd(width)}  ${row.roleId.padEnd(21)}  ${row.roleArn}`);
          return EXIT.ok;
        }
        const identity = pickFunction(answer.functions, wanted ?? '');
        const state = await loadLocalState();
        const { credentials } = identity;
        if (ctx.out.json) {
          ctx.out.data({
            functionName: identity.functionName,
            roleArn: identity.roleArn,
            roleId: identity.roleId,
            accessKeyId: credentials.accessKeyId,
            secretAccessKey: credentials.secretAccessKey,
            ...(credentials.sessionToken !== undefined ? { sessionToken: credentials.sessionToken } : {}),
            endpoint: state.endpoint,
            region: state.region,
          });
          return EXIT.ok;
        }
        const variables: [string, string][] = [
          ['AWS_ACCESS_KEY_ID', credentials.accessKeyId],
          ['AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey],
          ...(credentials.sessionToken !== undefined
            ? ([['AWS_SESSION_TOKEN', credentials.sessionToken]] as [string, string][])
            : []),
          ['AWS_ENDPOINT_URL', state.endpoint],
          ['AWS_REGION', state.region],
        ];
        if (options.export === true) {
          ctx.out.line(`# ${identity.functionName}: role ${identity.roleArn} (role id ${identity.roleId})`);
          for (const [name, value] of variables) ctx.out.line(`export ${name}='${value}'`);
          return EXIT.ok;
        }
        ctx.out.line(`function       ${identity.functionName}`);
        ctx.out.line(`role ARN       ${identity.roleArn}`);
        ctx.out.line(`role id        ${identity.roleId}`);
        ctx.out.line(`access key     ${credentials.accessKeyId}`);
        ctx.out.line(`secret key     ${credentials.secretAccessKey}`);
        if (credentials.sessionToken !== undefined)
          ctx.out.line(`session token  ${credentials.sessionToken}`);
        ctx.out.line('(--export prints them as shell variables, --json for scripts)');
        return EXIT.ok;
      }),
    );
}
