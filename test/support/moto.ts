/**
 * Test fixture: a private `moto_server` on 127.0.0.1 for one test file.
 *
 * Each file gets its own server on a free port, so vitest workers never share state. The server is
 * stopped by PID when the file ends (and on Ctrl-C or a crash of the test process). Starting, waiting
 * and stopping are the local cloud's (local/cloud.ts); when moto is missing the fixture fails with the
 * install command.
 */
import { afterAll, beforeAll } from 'vitest';
import { freePort as localFreePort, startCloud } from '../../local/cloud.js';
import { MotoStartError } from '../../local/errors.js';

export const MOTO_INSTALL_HINT = "pip install 'moto[server]==5.2.1' 'cfn-lint==1.51.0'";

export interface MotoServer {
  readonly endpoint: string;
  readonly pid: number;
  /** Wipes every resource in this server (moto's global reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return localFreePort();
}

/** Starts moto_server on a free loopback port and waits until it answers. */
export async function startMoto(options: { timeoutMs?: number } = {}): Promise<MotoServer> {
  // `env: {}`: a test always gets its own server, even when AWS_ENDPOINT_URL is set.
  const cloud = await startCloud({ env: {}, readyTimeoutMs: options.timeoutMs ?? 20_000 });
  const pid = cloud.pid;
  if (pid === undefined) {
    await cloud.stop();
    throw new MotoStartError('moto_server started without a PID');
  }
  return {
    endpoint: cloud.endpoint,
    pid,
    reset: () => cloud.reset(),
    stop: () => cloud.stop(),
  };
}

/** The SDK v3 client options that point at a moto endpoint. */
export function motoClientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 2,
  } as const;
}

/**
 * Registers beforeAll/afterAll hooks that run one moto server for the calling test file.
 * Read `.endpoint` inside tests or hooks (not at module load).
 */
export function useMoto(): { readonly endpoint: string; readonly server: MotoServer } {
  let server: MotoServer | undefined;
  beforeAll(async () => {
    // moto_server takes a few seconds to answer; many more on a loaded machine.
    server = await startMoto({ timeoutMs: 60_000 });
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (!server) throw new Error('moto is not started yet: use it inside a test or hook');
      return server;
    },
    get endpoint() {
      return this.server.endpoint;
    },
  };
}
