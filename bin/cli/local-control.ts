/**
 * The kept local cloud's control endpoint, as the commands that need it (`--local credentials`,
 * `--local deploy`, `--local destroy`) find it: in the local state file that `npm start -- --keep`
 * writes. Only the local cloud has one: without `--local` (or AWS_ENDPOINT_URL) these commands say so.
 */
import { ControlClient, ControlError } from '../../local/control-client.js';
import type { CommandContext } from './context.js';
import { isLocal } from './deployment.js';
import { CliError, UsageError } from './errors.js';
import { findLocalState, loadLocalState } from './local-state.js';

/** The control client of the local cloud the state file names; fails with what to do. */
export async function localControl(ctx: CommandContext, command: string): Promise<ControlClient> {
  if (!isLocal(ctx.options)) {
    throw new UsageError(
      `${command} works with the local cloud only: npx plugboard --local ${command} … (AWS deployments use cdk deploy)`,
    );
  }
  const state = await loadLocalState();
  if (state.control === undefined) {
    throw new CliError(
      `The local cloud of ${findLocalState() ?? 'the state file'} has no control endpoint: restart it with npm start -- --keep (this version serves one).`,
    );
  }
  return new ControlClient(state.control);
}

/** A control-endpoint failure as a CLI error (exit 1), its hint included. */
export function controlFailure(error: unknown): unknown {
  return error instanceof ControlError ? new CliError(error.message, { cause: error }) : error;
}
