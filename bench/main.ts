/**
 * `npm run bench [-- --quick | --full]`: starts a private moto server, runs the benchmark scenarios on
 * the orchestra harness and prints the results. The full run (default) writes docs/benchmarks.md and
 * docs/benchmarks.json; the quick run (CI) checks the counters and writes nothing unless `--write`.
 * Exits 1 when a counter check fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { relative, resolve } from 'node:path';
import { Command } from 'commander';
import { startCloud } from '../local/cloud.js';
import type { Meter } from './meter.js';
import { consoleTable, type Machine, toJson, toMarkdown } from './report.js';
import { type BenchResult, type Mode, runBench } from './run.js';

const program = new Command('bench')
  .description('Measure Plugboard’s cost per run, stage overhead, throughput and fan-out width on moto')
  .option('--quick', 'a few runs and width 100 only; checks the counters (CI)')
  .option('--full', 'every scenario (the default)')
  .option('--write', 'write docs/benchmarks.{md,json} in quick mode too')
  .option('--out <dir>', 'where to write the reports', 'docs')
  .option('--timed-runs <n>', 'timed reference runs (8 stage transitions each)', (v) =>
    Number.parseInt(v, 10),
  )
  .option('--render', 'only re-render benchmarks.md from the benchmarks.json in --out (no measuring)');
program.parse();
const flags = program.opts<{
  quick?: boolean;
  full?: boolean;
  write?: boolean;
  render?: boolean;
  timedRuns?: number;
  out: string;
}>();
const mode: Mode = flags.quick && !flags.full ? 'quick' : 'full';
const write = mode === 'full' || flags.write === true;

const out = process.stdout.write.bind(process.stdout);
const say = (line: string) => out(`${line}\n`);

/** Routes what the handlers write to stdout (logs, EMF) to the active meter instead of the terminal. */
function captureHandlerOutput(): { setMeter(meter: Meter): void; restore(): void } {
  let meter: Meter | undefined;
  let pending = '';
  const original = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) meter?.recordLogLine(line);
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  return {
    setMeter: (m) => {
      meter = m;
    },
    restore: () => {
      process.stdout.write = original;
    },
  };
}

function command(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Re-renders the Markdown report from a saved JSON report (after a change to the report's text). */
function render(): number {
  const dir = resolve(flags.out);
  const saved = JSON.parse(readFileSync(resolve(dir, 'benchmarks.json'), 'utf8')) as BenchResult & {
    machine: Machine;
  };
  writeFileSync(resolve(dir, 'benchmarks.md'), toMarkdown(saved, saved.machine));
  say(`re-rendered ${dir}/benchmarks.md from benchmarks.json`);
  return 0;
}

async function main(): Promise<number> {
  if (flags.render) return render();
  const began = performance.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const cloud = await startCloud({ env: {} });
  // A second server for the width scenarios, which then run beside the timed runs.
  const wideCloud = mode === 'full' ? await startCloud({ env: {} }) : undefined;
  const capture = captureHandlerOutput();
  try {
    const result = await runBench(cloud.endpoint, mode, {
      log: (m) => say(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}`),
      onMeter: capture.setMeter,
      ...(flags.timedRuns === undefined ? {} : { plan: { timedRuns: flags.timedRuns } }),
      ...(wideCloud ? { wideEndpoint: wideCloud.endpoint } : {}),
    });
    capture.restore();
    const machine: Machine = {
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      node: process.version,
      os: `${type()} ${release()}`,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      memoryGb: Math.round(totalmem() / 1024 ** 3),
      moto: command('python3', ['-c', 'import moto; print(moto.__version__)']),
      commit: command('git', ['rev-parse', '--short', 'HEAD']),
      elapsedSeconds: (performance.now() - began) / 1000,
      loadAverage: [loadAtStart, loadavg()[0] ?? 0],
    };
    say('');
    say(consoleTable(result));
    if (write) {
      const dir = resolve(flags.out);
      mkdirSync(dir, { recursive: true });
      writeFileSync(resolve(dir, 'benchmarks.md'), toMarkdown(result, machine));
      writeFileSync(resolve(dir, 'benchmarks.json'), toJson(result, machine));
      // The repository's formatter owns JSON layout (short arrays on one line); Biome formats files
      // inside the repository only.
      if (!relative(process.cwd(), dir).startsWith('..')) {
        command('npx', ['biome', 'format', '--write', resolve(dir, 'benchmarks.json')]);
      }
      say(`\nwrote ${dir}/benchmarks.md and benchmarks.json`);
    }
    const failed = result.checks.filter((c) => !c.ok);
    for (const c of failed) say(`check failed: ${c.name} (${c.detail})`);
    return failed.length === 0 ? 0 : 1;
  } finally {
    capture.restore();
    await cloud.stop();
    await wideCloud?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
