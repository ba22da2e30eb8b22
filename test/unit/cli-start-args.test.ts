/** `npm start -- <options>` (local/args.ts): usage on --help, unknown options refused. */
import { describe, expect, it } from 'vitest';
import { parseStartArgs, START_USAGE } from '../../local/args.js';

describe('npm start options', () => {
  it('prints the usage instead of running the demo when --help or -h is given', () => {
    expect(parseStartArgs(['--help'])).toEqual({ kind: 'help', text: START_USAGE });
    expect(parseStartArgs(['--keep', '-h'])).toEqual({ kind: 'help', text: START_USAGE });
    expect(START_USAGE).toContain('npm start -- --keep');
  });

  it('refuses an unknown option, naming it, with the usage', () => {
    const parsed = parseStartArgs(['--kep']);

    expect(parsed.kind).toBe('error');
    expect(parsed.kind === 'error' && parsed.text).toContain("Unknown option '--kep'");
    expect(parsed.kind === 'error' && parsed.text).toContain('--full-batching-windows');
  });

  it('refuses a stray argument', () => {
    expect(parseStartArgs(['keep']).kind).toBe('error');
  });

  it('turns IAM enforcement off only with --no-iam', () => {
    expect(parseStartArgs(['--no-iam'])).toMatchObject({ kind: 'run', options: { iam: false } });
  });

  it('reads the known options, and defaults them to off (IAM on)', () => {
    expect(parseStartArgs(['--keep', '--full-batching-windows'])).toEqual({
      kind: 'run',
      options: { keep: true, verbose: false, fullWindows: true, iam: true },
    });
    expect(parseStartArgs([])).toEqual({
      kind: 'run',
      options: { keep: false, verbose: false, fullWindows: false, iam: true },
    });
  });
});
