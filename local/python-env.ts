/**
 * The Python tools the local cloud and the tests run: `moto_server` (the AWS emulator) and `cfn-lint`
 * (the templates' linter). When one is not on PATH, a project-local virtual environment
 * (`.plugboard/python`, ignored by git) gets the pinned versions, once, and its `bin` folder goes to
 * the front of PATH, so that a new machine needs only Node.js, Python 3 and the README's commands.
 *
 * Every failure names the fix: how to get Python 3 (with venv), or, when no package index answers,
 * the exact pip command to run by hand once the network (or a mirror, `PIP_INDEX_URL`) is there.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/**
 * What the environment installs: moto with the extras its server needs, and cfn-lint, at the versions
 * the project is tested with (moto's server extras pinned too, so the emulator behaves the same on
 * every machine).
 */
export const PYTHON_REQUIREMENTS = [
  'moto[server]==5.2.1',
  'cfn-lint==1.51.0',
  'antlr4-python3-runtime==4.13.2',
  'joserfc==1.6.5',
  'jsonpath-ng==1.8.0',
  'docker==7.1.0',
  'graphql-core==3.2.8',
  'PyYAML==6.0.3',
  'openapi-spec-validator==0.9.0',
  'pyparsing==3.3.2',
  'py-partiql-parser==0.6.3',
  'aws-xray-sdk==2.15.0',
  'flask==3.1.3',
  'flask-cors==6.0.2',
] as const;

/** The environment's folder, under the project root. */
export const PYTHON_ENV_DIR = '.plugboard/python';

/** The executables the environment provides. */
export type PythonTool = 'moto_server' | 'cfn-lint';

type Env = Readonly<Record<string, string | undefined>>;

export interface PythonToolsOptions {
  /** The tools needed. @default ['moto_server'] */
  readonly tools?: readonly PythonTool[];
  /** The project root the environment lives under. @default process.cwd() */
  readonly root?: string;
  /** Where PATH (and pip's settings) come from. @default process.env */
  readonly env?: Env;
  /** Progress lines ("creating…", "installing…"). @default - written to stderr */
  readonly say?: (line: string) => void;
}

export interface PythonTools {
  /** The PATH under which every tool asked for is found (the environment's bin first when used). */
  readonly path: string;
  /** The environment's bin folder, when a tool comes from it. */
  readonly binDir?: string;
  /** Whether this call created the environment or installed into it. */
  readonly installed: boolean;
}

/** Base of the errors of the bootstrap: each message ends with what to do. */
export class PythonToolsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No Python 3 (or one without venv) to create the environment with. */
export class PythonMissingError extends PythonToolsError {}

/** pip could not reach a package index: the message names the command to run by hand. */
export class PackageIndexUnreachableError extends PythonToolsError {
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

/** The command that installs the tools by hand, into the environment or (without one) anywhere. */
export function installCommand(python = 'python3'): string {
  return `${python} -m pip install ${PYTHON_REQUIREMENTS.map((r) => `'${r}'`).join(' ')}`;
}

const HOW_TO_GET_PYTHON =
  'Install Python 3 with its venv module: Debian/Ubuntu `sudo apt-get install python3 python3-venv`, Fedora `sudo dnf install python3`, macOS `brew install python`, Windows https://www.python.org/downloads/';

/** The executable `command` on `path`, or undefined. */
export function onPath(command: string, path: string | undefined): string | undefined {
  for (const directory of (path ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

interface Ran {
  readonly code: number | null;
  readonly output: string;
}

function run(command: string, args: readonly string[], env: Env): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, output }));
  });
}

/** pip's words for "no index answered" (DNS, refused or timed-out connections, proxies, offline mirrors). */
const UNREACHABLE =
  /NewConnectionError|Failed to establish a new connection|Temporary failure in name resolution|Name or service not known|Connection refused|ConnectTimeout|Read timed out|ProxyError|Network is unreachable|No matching distribution found|Could not find a version that satisfies/;

/**
 * Makes every tool in `options.tools` runnable: those on PATH are used as they are; otherwise the
 * project's environment provides them (created and installed into when needed). Returns the PATH to
 * run them with; the caller puts it into `process.env.PATH` for the child processes it starts.
 */
export async function ensurePythonTools(options: PythonToolsOptions = {}): Promise<PythonTools> {
  const env = options.env ?? process.env;
  const tools = options.tools ?? ['moto_server'];
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const path = env.PATH ?? '';
  const missing = tools.filter((tool) => onPath(tool, path) === undefined);
  if (missing.length === 0) return { path, installed: false };

  const venv = resolve(options.root ?? process.cwd(), PYTHON_ENV_DIR);
  const binDir = join(venv, process.platform === 'win32' ? 'Scripts' : 'bin');
  const withEnv = `${binDir}${delimiter}${path}`;
  if (missing.every((tool) => onPath(tool, binDir) !== undefined)) {
    return { path: withEnv, binDir, installed: false };
  }

  const venvPython = join(binDir, 'python');
  if (!existsSync(venvPython)) {
    const python = onPath('python3', path) ?? onPath('python', path);
    if (python === undefined) {
      throw new PythonMissingError(
        `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not on PATH, and there is no Python 3 (python3) to install ${missing.length > 1 ? 'them' : 'it'} with. ${HOW_TO_GET_PYTHON}; then run the command again. (Or install the tools yourself: ${installCommand()})`,
      );
    }
    say(
      `${missing.join(' and ')} not found on PATH: creating a Python environment in ${venv} for the pinned moto and cfn-lint (once)…`,
    );
    const created = await run(python, ['-m', 'venv', venv], env);
    if (created.code !== 0) {
      throw new PythonMissingError(
        `Could not create a Python environment in ${venv} with ${python} (exit ${created.code}): ${lastLines(created.output)}\n${HOW_TO_GET_PYTHON}; delete ${venv} and run the command again.`,
      );
    }
  }
  const command = installCommand(venvPython);
  say(`installing ${PYTHON_REQUIREMENTS.slice(0, 2).join(' and ')} into ${venv} (a minute or two)…`);
  const installed = await run(
    venvPython,
    ['-m', 'pip', 'install', '--disable-pip-version-check', ...PYTHON_REQUIREMENTS],
    env,
  );
  if (installed.code !== 0) {
    if (UNREACHABLE.test(installed.output)) {
      throw new PackageIndexUnreachableError(
        `pip could not reach a package index to install moto and cfn-lint (${lastLines(installed.output, 2)}). Once the network (or a mirror: PIP_INDEX_URL) is available, run by hand:\n  ${command}\nor install the tools any other way so that moto_server and cfn-lint are on PATH.`,
        command,
      );
    }
    throw new PythonToolsError(
      `pip failed to install moto and cfn-lint into ${venv} (exit ${installed.code}): ${lastLines(installed.output)}\nFix the cause and run by hand:\n  ${command}`,
    );
  }
  const stillMissing = missing.filter((tool) => onPath(tool, binDir) === undefined);
  if (stillMissing.length > 0) {
    throw new PythonToolsError(
      `pip installed into ${venv} but ${stillMissing.join(' and ')} is not in ${binDir}: delete ${venv} and run the command again.`,
    );
  }
  say(`${missing.join(' and ')} ready in ${binDir}.`);
  return { path: withEnv, binDir, installed: true };
}

function lastLines(output: string, count = 5): string {
  return output.trim().split('\n').slice(-count).join(' | ') || '(no output)';
}
