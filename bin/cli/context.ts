/**
 * What every command gets: the global options, the output, the clock and the deployment (resolved
 * lazily, once, so `--help` and usage errors never touch AWS).
 */
import type { Command } from 'commander';
import type { ApiClient } from './api-client.js';
import { resolveApiClient, wantsApi } from './api-connection.js';
import { type Deployment, type GlobalOptions, resolveDeployment } from './deployment.js';
import { createOutput, type Output } from './output.js';

export interface CommandContext {
  readonly options: GlobalOptions;
  readonly out: Output;
  now(): Date;
  deployment(): Promise<Deployment>;
  /** The HTTP API client when `--api` (or PLUGBOARD_API_URL) is given; otherwise undefined. */
  api(): Promise<ApiClient> | undefined;
}

/** Shared by the commands of one process; `dispose()` closes the clients a command opened. */
export class ContextFactory {
  private resolved?: Promise<Deployment>;
  private apiClient?: Promise<ApiClient>;

  create(command: Command): CommandContext {
    const given = (key: string) => {
      const source = command.getOptionValueSourceWithGlobals(key);
      return source !== undefined && source !== 'default';
    };
    const options: GlobalOptions = {
      ...command.optsWithGlobals<GlobalOptions>(),
      explicit: { stage: given('stage'), system: given('system') },
    };
    return {
      options,
      out: createOutput(options),
      now: () => new Date(),
      deployment: () => {
        this.resolved ??= resolveDeployment(options);
        return this.resolved;
      },
      api: () => {
        if (!wantsApi(options)) return undefined;
        this.apiClient ??= resolveApiClient(options);
        return this.apiClient;
      },
    };
  }

  async dispose(): Promise<void> {
    if (!this.resolved) return;
    try {
      (await this.resolved).destroy();
    } catch {
      // The deployment never resolved: nothing to close.
    }
  }
}

/** A command's action: returns the exit code (undefined = 0). */
export type Action<A extends unknown[]> = (ctx: CommandContext, ...args: A) => Promise<number | undefined>;

/**
 * A plugboard command line for a hint, with the global options that chose this deployment
 * (`--local`, and `--stage`/`--system` when they were given), so that the hint works as printed.
 */
export function hintCommand(options: GlobalOptions, rest: string): string {
  const globals = [
    options.local ? '--local' : '',
    options.api === true ? '--api' : typeof options.api === 'string' ? `--api ${options.api}` : '',
    options.explicit?.stage ? `--stage ${options.stage}` : '',
    options.explicit?.system ? `--system ${options.system}` : '',
  ].filter(Boolean);
  return ['npx plugboard', ...globals, rest].join(' ');
}
