/**
 * The local stand-in for the pre-signed S3 URL CloudFormation gives custom resources: a small HTTP
 * server on 127.0.0.1 that accepts the provider's PUT of the response document. Each request gets its
 * own URL (`/custom-resource/<token>`); the deployer waits on it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { z } from 'zod';

const responseSchema = z.looseObject({
  Status: z.enum(['SUCCESS', 'FAILED']),
  Reason: z.string().optional(),
  PhysicalResourceId: z.string().optional(),
  StackId: z.string().optional(),
  RequestId: z.string().optional(),
  LogicalResourceId: z.string().optional(),
  NoEcho: z.boolean().optional(),
  Data: z.record(z.string(), z.unknown()).optional(),
});

/** The response document a custom resource provider sends. */
export type CustomResourceResponse = z.infer<typeof responseSchema>;

interface Waiter {
  resolve: (response: CustomResourceResponse) => void;
  reject: (error: Error) => void;
}

export class CustomResourceEndpoint {
  private readonly waiters = new Map<string, Waiter>();
  private readonly early = new Map<string, CustomResourceResponse>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(): Promise<CustomResourceEndpoint> {
    let endpoint: CustomResourceEndpoint | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const token = /^\/custom-resource\/([0-9a-f-]+)$/.exec(request.url ?? '')?.[1];
        if (request.method !== 'PUT' || token === undefined || endpoint === undefined) {
          response.writeHead(404).end();
          return;
        }
        const status = endpoint.receive(token, Buffer.concat(chunks).toString('utf8'));
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string')
      throw new Error('the custom resource endpoint has no port');
    endpoint = new CustomResourceEndpoint(server, `http://127.0.0.1:${address.port}`);
    return endpoint;
  }

  /** A fresh response URL and its token. */
  newResponseUrl(): { token: string; url: string } {
    const token = randomUUID();
    return { token, url: `${this.baseUrl}/custom-resource/${token}` };
  }

  private receive(token: string, body: string): number {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      this.settle(token, new Error(`the response document is not JSON: ${body.slice(0, 200)}`));
      return 400;
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) {
      this.settle(
        token,
        new Error(`the response document is malformed: ${parsed.error.issues[0]?.message ?? ''}`),
      );
      return 400;
    }
    this.settle(token, parsed.data);
    return 200;
  }

  private settle(token: string, outcome: CustomResourceResponse | Error): void {
    const waiter = this.waiters.get(token);
    if (waiter === undefined) {
      if (!(outcome instanceof Error)) this.early.set(token, outcome);
      return;
    }
    this.waiters.delete(token);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  /** Resolves with the response PUT to the token's URL, or rejects after `timeoutMs`. */
  waitFor(
    token: string,
    timeoutMs: number,
  ): { response: Promise<CustomResourceResponse>; cancel: () => void } {
    const early = this.early.get(token);
    if (early !== undefined) {
      this.early.delete(token);
      return { response: Promise.resolve(early), cancel: () => {} };
    }
    let timer: NodeJS.Timeout | undefined;
    const response = new Promise<CustomResourceResponse>((resolve, reject) => {
      this.waiters.set(token, { resolve, reject });
      timer = setTimeout(() => {
        this.waiters.delete(token);
        reject(new Error(`no response arrived at the ResponseURL within ${timeoutMs} ms`));
      }, timeoutMs);
    }).finally(() => clearTimeout(timer));
    return {
      response,
      cancel: () => {
        clearTimeout(timer);
        this.waiters.delete(token);
      },
    };
  }

  async close(): Promise<void> {
    for (const [token, waiter] of this.waiters) {
      this.waiters.delete(token);
      waiter.reject(new Error('the deployer stopped before the custom resource answered'));
    }
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
