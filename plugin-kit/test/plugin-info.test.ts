/**
 * Reading a PluginInfo as authors write it: the predecessor's `pluginName` is an alias with a
 * warning, unknown keys get a "did you mean", and a bad name is refused where the info is defined.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  definePluginInfo,
  InvalidPluginInfoError,
  orchestratorWrapperSns,
  type PredecessorPluginInfo,
  readPluginInfo,
} from '../src/index.js';
import { recordingLogger, runPlugin } from '../src/testing/index.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function problemsOf(input: unknown): readonly string[] {
  const reading = readPluginInfo(input);
  return reading.ok ? [] : reading.problems;
}

describe('readPluginInfo', () => {
  it('accepts the predecessor’s pluginName as name, with one deprecation warning', () => {
    const reading = readPluginInfo({ pluginName: 'check-credit', default: { mandatory: true } });

    expect(reading.ok).toBe(true);
    expect(reading.ok && reading.info.name).toBe('check-credit');
    expect(reading.warnings).toEqual([
      'PluginInfo.pluginName is deprecated: rename it to name ("check-credit")',
    ]);
  });

  it('refuses pluginName and name together, saying to keep only name', () => {
    expect(problemsOf({ pluginName: 'a', name: 'b', default: { mandatory: true } })).toEqual([
      'pluginName ("a") and name ("b"): set only name (pluginName is its deprecated alias)',
    ]);
  });

  it('ignores default.pluginRegisterTimeout with a warning that says why', () => {
    const reading = readPluginInfo({
      name: 'audit',
      default: { mandatory: false, pluginRegisterTimeout: 5000 },
    });

    expect(reading.ok && reading.info.default).toEqual({ mandatory: false });
    expect(reading.warnings).toHaveLength(1);
    expect(reading.warnings[0]).toMatch(
      /pluginRegisterTimeout is ignored: .*registers plugins at deploy time/,
    );
  });

  it('suggests the nearest key for an unknown one, and lists the known keys', () => {
    const problems = problemsOf({ name: 'audit', default: { mandatory: true }, idempotant: false });

    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^idempotant: unknown key; did you mean "idempotent"\? the keys of PluginInfo are name, /,
    );
  });

  it('suggests within default too', () => {
    expect(problemsOf({ name: 'audit', default: { manditory: true } })).toEqual([
      'default.mandatory: is required (a boolean)',
      'default.manditory: unknown key; did you mean "mandatory"? the keys of default are mandatory',
    ]);
  });

  it('gives no guess when no key is close', () => {
    const problems = problemsOf({ name: 'audit', default: { mandatory: true }, colour: 'blue' });

    expect(problems[0]).toMatch(/^colour: unknown key; the keys of PluginInfo are /);
  });

  it('says why a predecessor registration key is not needed', () => {
    expect(problemsOf({ name: 'audit', default: { mandatory: true }, functionName: 'fn' })).toEqual([
      'functionName: is not needed: the registration carries the function ARN; remove it',
    ]);
  });

  it('refuses a name with spaces, stating the rule and a legal name', () => {
    expect(problemsOf({ name: 'Check Credit', default: { mandatory: true } })).toEqual([
      'name ("Check Credit"): must not contain spaces; plugin names are 1-64 letters, digits, "_", "." or "-", starting with a letter or digit, because SNS filter policies and reports carry them (e.g. "Check-Credit")',
    ]);
  });

  it('refuses something that is not an object, showing the shape', () => {
    expect(problemsOf('check-credit')[0]).toMatch(/^PluginInfo must be an object such as \{ name: /);
  });
});

describe('definePluginInfo', () => {
  it('throws where the info is defined when the name has spaces', () => {
    const define = () => definePluginInfo({ name: 'check credit', default: { mandatory: true } });

    expect(define).toThrow(InvalidPluginInfoError);
    expect(define).toThrow(/must not contain spaces.*\(e\.g\. "check-credit"\)/);
  });

  it('returns the parsed info with defaults, and emits the deprecation as a process warning', () => {
    const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const legacy: PredecessorPluginInfo = { pluginName: 'audit', default: { mandatory: false } };

    const info = definePluginInfo(legacy);

    expect(info).toMatchObject({ name: 'audit', order: 90, idempotent: true });
    expect(emit).toHaveBeenCalledWith(expect.stringContaining('pluginName is deprecated'), {
      type: 'DeprecationWarning',
      code: 'PLUGBOARD_PLUGIN_INFO',
    });
  });
});

describe('wrappers and the predecessor’s PluginInfo', () => {
  it('runs a plugin defined with pluginName and logs the deprecation once, as one line', async () => {
    const logger = recordingLogger();
    const handler = orchestratorWrapperSns(
      { pluginName: 'audit', default: { mandatory: false } },
      async () => ({ ok: true }),
      { logger },
    );

    const run = await runPlugin(handler);

    expect(handler.info.name).toBe('audit');
    expect(run.statuses).toEqual(['In Progress', 'Complete']);
    const warnings = logger.entries.filter((entry) => entry.message.includes('pluginName is deprecated'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe('warn');
  });
});
