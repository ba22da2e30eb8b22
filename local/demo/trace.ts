/**
 * `PLUGBOARD_TRACE=<file> npm start`: one JSON line per AWS request (operation, queue, duration,
 * messages received), per runner and function log entry (with the REPORT and PREWARM lines), the CPU
 * used by this process and by moto when the runs start and end, and each run's final snapshot, every
 * line with the milliseconds since start (`t`). It shows where the wall time of the demo goes: which
 * hop of which run waited for what.
 */
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import type { ProxiedRequest } from '../aws-proxy.js';

export class DemoTrace {
  private readonly stream: WriteStream;

  constructor(
    path: string,
    private readonly t0: number,
  ) {
    this.stream = createWriteStream(path);
  }

  line(entry: Readonly<Record<string, unknown>>): void {
    this.stream.write(`${JSON.stringify({ t: Math.round(performance.now() - this.t0), ...entry })}\n`);
  }

  request(request: ProxiedRequest): void {
    const queue =
      /"QueueUrl":"([^"]+)"/.exec(request.requestBody)?.[1] ??
      /(?:^|&)QueueUrl=([^&]+)/.exec(request.requestBody)?.[1];
    this.line({
      kind: 'aws',
      op: `${request.service}:${request.operation}`,
      ms: Math.round(request.durationMs),
      ...(queue !== undefined ? { queue: decodeURIComponent(queue).replace(/^.*\//, '') } : {}),
      ...(request.operation === 'ReceiveMessage'
        ? { received: (request.responseBody.match(/"MessageId"|<MessageId>/g) ?? []).length }
        : {}),
    });
  }

  /** CPU seconds used so far by this process (every thread) and by the moto process. */
  cpu(label: string, motoPid: number | undefined): void {
    const own = process.cpuUsage();
    this.line({ kind: 'cpu', label, node: (own.user + own.system) / 1e6, moto: processCpuSeconds(motoPid) });
  }

  /** Flushes the file. */
  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

/** utime + stime of a process from /proc (Linux), in seconds; undefined elsewhere. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // /proc/<pid>/stat after the command's closing parenthesis: utime and stime are the 12th and 13th
    // fields, in clock ticks (100 per second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const seconds = (Number(fields[11]) + Number(fields[12])) / 100;
    return Number.isFinite(seconds) ? seconds : undefined;
  } catch {
    return undefined;
  }
}
