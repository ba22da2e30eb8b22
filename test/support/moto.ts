/**
 * Test fixture: a private `moto_server` on 127.0.0.1 for one test file.
 *
 * Each file gets its own server on a free port, so vitest workers never share state. The server is
 * stopped by PID when the file ends. When moto is missing the fixture fails with the install command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export const MOTO_INSTALL_HINT = "pip install 'moto[server]' cfn-lint";

export interface MotoServer {
  readonly endpoint: string;
  readonly pid: number;
  /** Wipes every resource in this server (moto's global reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Asks the kernel for a free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('could not read the port of a probe socket'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

async function waitUntilReady(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => {
    exited = code ?? -1;
  });
  while (Date.now() < deadline) {
    if (exited !== null) {
      throw new Error(`moto_server exited with code ${exited} before it was ready`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms`);
}

/** Starts moto_server on a free loopback port and waits until it answers. */
export async function startMoto(options: { timeoutMs?: number } = {}): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`moto_server was not found on PATH. Install it with: ${MOTO_INSTALL_HINT}`)
          : error,
      );
    });
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await Promise.race([waitUntilReady(endpoint, child, options.timeoutMs ?? 20_000), spawnError]);
  } catch (error) {
    child.kill('SIGKILL');
    const detail = stderr.trim() ? `\n--- moto_server stderr ---\n${stderr.trim()}` : '';
    throw new Error(`${(error as Error).message}${detail}`, { cause: error });
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error('moto_server started without a PID');
  return {
    endpoint,
    pid,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed with HTTP ${response.status}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
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
    server = await startMoto();
  }, 30_000);
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
