/**
 * What IAM enforcement costs `npm start`: the demo run with enforcement and with `--no-iam`, in
 * alternating pairs (so a change of machine load falls on both), reporting each wall time, the
 * medians and the ratio. It is how docs/local-cloud.md ("IAM, enforced as AWS does") was measured.
 *
 *     npx tsx local/scripts/iam-ratio.ts --pairs 3
 *
 * Each `npm start` must exit 0 (every run as expected); the script exits 1 when one does not, and
 * says which. The first start of a checkout also bundles every function: run `npm start` once
 * before, or the first pair measures the bundling.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const USAGE = `Usage: npx tsx local/scripts/iam-ratio.ts [--pairs N]

  --pairs N   pairs of npm start (enforced, then --no-iam) to time (default 3, at most 10)`;

function pairsOption(): number {
  let values: { pairs?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { pairs: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(
      `iam-ratio: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}\n`,
    );
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const pairs = Number(values.pairs ?? '3');
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > 10) {
    process.stderr.write(
      `iam-ratio: --pairs must be a whole number from 1 to 10, got ${values.pairs}\n\n${USAGE}\n`,
    );
    process.exit(2);
  }
  return pairs;
}

/** Wall time of one `npm start` in milliseconds; rejects with its output's tail when it fails. */
function timeStart(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('npm', ['start', '--', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`npm start ${args.join(' ')} exited ${code}; its last output:\n${output}`));
    });
  });
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? Number.NaN) + (sorted[middle] ?? Number.NaN)) / 2;
};

async function main(): Promise<number> {
  const pairs = pairsOption();
  const enforced: number[] = [];
  const off: number[] = [];
  const loadAtStart = loadavg()[0] ?? 0;
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  for (let pair = 1; pair <= pairs; pair += 1) {
    let withIam: number;
    let withoutIam: number;
    try {
      withIam = await timeStart([]);
      withoutIam = await timeStart(['--no-iam']);
    } catch (error) {
      process.stderr.write(`iam-ratio: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
    enforced.push(withIam);
    off.push(withoutIam);
    process.stdout.write(`pair ${pair}: enforced ${seconds(withIam)}, --no-iam ${seconds(withoutIam)}\n`);
  }
  const ratio = median(enforced) / median(off);
  const lines = [
    `median of ${pairs}: enforced ${seconds(median(enforced))}, --no-iam ${seconds(median(off))}`,
    `ratio enforced / --no-iam: ${ratio.toFixed(2)}×`,
    `load average (1 min) at start / end: ${loadAtStart.toFixed(1)} / ${(loadavg()[0] ?? 0).toFixed(1)}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

process.exitCode = await main();
