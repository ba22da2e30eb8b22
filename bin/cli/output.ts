/**
 * Where a command's output goes, and how it looks: colours (picocolors) on a TTY, or wherever
 * FORCE_COLOR asks for them, never with NO_COLOR or TERM=dumb; JSON for scripts (`--json`); aligned
 * columns for people.
 */
import { createColors } from 'picocolors';

export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  readonly tty: boolean;
  /** Writes a line (or lines) to stdout. */
  line(text?: string): void;
  /** Writes raw text to stdout (no newline added). */
  write(text: string): void;
  /** Writes a line to stderr. */
  error(text: string): void;
  /** Prints a value as JSON on one line per value. */
  data(value: unknown): void;
}

export interface Streams {
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean };
  readonly stderr: { write(text: string): unknown };
}

export function createOutput(
  options: { readonly json?: boolean },
  streams: Streams = process,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Output {
  const tty = streams.stdout.isTTY === true;
  const color = colorWanted(tty, env);
  return {
    json: options.json === true,
    color,
    tty,
    line: (text = '') => streams.stdout.write(`${text}\n`),
    write: (text) => streams.stdout.write(text),
    error: (text) => streams.stderr.write(`${text}\n`),
    data: (value) => streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

/**
 * A reader that stops reading (`plugboard … | head -n 1`) closes the pipe; the next write fails with
 * EPIPE. That is not the CLI's failure: end the process quietly, with the exit code so far.
 */
function onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  throw error;
}

/** Installs the closed-pipe handling on stdout (once per process). */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  if (!stream.listeners('error').includes(onStdoutError)) stream.on('error', onStdoutError);
}

/**
 * Colours, by the conventions picocolors follows: NO_COLOR (set and not empty) turns them off, even
 * when forced; FORCE_COLOR (set and not "0" or "false") turns them on, even in a pipe; otherwise a TTY
 * has them unless TERM is "dumb".
 */
export function colorWanted(tty: boolean, env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return tty && env.TERM !== 'dumb';
}

const COLORS = { on: createColors(true), off: createColors(false) } as const;

export type Style = 'red' | 'green' | 'yellow' | 'blue' | 'cyan' | 'gray' | 'bold' | 'dim';

export function paint(enabled: boolean, style: Style, text: string): string {
  return (enabled ? COLORS.on : COLORS.off)[style](text);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: removing ANSI escapes is the point
const ANSI = /\u001b\[[0-9;]*m/g;

/** Printed width of a string (ANSI colour codes do not count). */
export function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** Aligns rows into columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) =>
        i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell)),
      )
      .join('  ')
      .trimEnd(),
  );
}

/**
 * The text that replaces a drawing of `previousLines` lines (just above the cursor) with `lines`:
 * cursor up to the first line of the old drawing, clear to the end of the screen, draw.
 */
export function redrawFrame(previousLines: number, lines: readonly string[]): string {
  const erase = previousLines > 0 ? `\u001b[${previousLines}F\u001b[0J` : '';
  return `${erase}${lines.join('\n')}\n`;
}

/** Keeps a line within `columns` (a wrapped line would break the in-place redraw); drops colour if cut. */
export function fitWidth(line: string, columns: number | undefined): string {
  if (columns === undefined || columns < 2 || visibleLength(line) <= columns) return line;
  return `${line.replace(ANSI, '').slice(0, columns - 1)}…`;
}
