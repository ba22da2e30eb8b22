import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  InvalidPluginInfoError,
  InvalidPluginPropsError,
  InvalidResultError,
  isConfigurationError,
  isInvalidPluginInfoError,
  isInvalidPluginPropsError,
  isInvalidResultError,
  isOrchestratorError,
  isPluginError,
  isPluginKitError,
  isReportDeliveryError,
  isResultTooLargeError,
  isStatusReadError,
  isUnsupportedEventError,
  OrchestratorError,
  PluginError,
  ReportDeliveryError,
  ResultTooLargeError,
  StatusReadError,
  UnsupportedEventError,
} from '../src/index.js';

const cases = [
  ['OrchestratorError', () => new OrchestratorError('m'), isOrchestratorError, false],
  ['PluginError', () => new PluginError('m'), isPluginError, false],
  [
    'InvalidPluginInfoError',
    () => new InvalidPluginInfoError(['name: bad']),
    isInvalidPluginInfoError,
    false,
  ],
  ['ConfigurationError', () => new ConfigurationError('m', 'VAR'), isConfigurationError, false],
  ['ResultTooLargeError', () => new ResultTooLargeError(5000, 4096), isResultTooLargeError, false],
  ['InvalidResultError', () => new InvalidResultError('m'), isInvalidResultError, false],
  ['ReportDeliveryError', () => new ReportDeliveryError('m', 'https://q'), isReportDeliveryError, true],
  ['StatusReadError', () => new StatusReadError('m'), isStatusReadError, true],
  ['UnsupportedEventError', () => new UnsupportedEventError('m'), isUnsupportedEventError, false],
  [
    'InvalidPluginPropsError',
    () => new InvalidPluginPropsError('X', ['a']),
    isInvalidPluginPropsError,
    false,
  ],
] as const;

describe('plugin-kit errors', () => {
  it.each(cases)(
    '%s sets its name, says whether it is retryable and is recognised by its check',
    (name, make, is, retryable) => {
      const error = make();

      expect(error.name).toBe(name);
      expect(error.retryable).toBe(retryable);
      expect(is(error)).toBe(true);
      expect(isPluginKitError(error)).toBe(true);
      expect(error).toBeInstanceOf(Error);
    },
  );

  it.each(cases)(
    'the check of %s rejects plain errors, other kit errors and non-objects',
    (_name, make, is) => {
      const others = cases.filter(([, other]) => other !== make).map(([, other]) => other());

      expect(is(new Error('plain'))).toBe(false);
      expect(is(undefined)).toBe(false);
      expect(is('PluginError')).toBe(false);
      expect(
        others.filter((other) => is(other) && !(is === isPluginError && other instanceof OrchestratorError)),
      ).toEqual([]);
    },
  );

  it('treats an OrchestratorError as a PluginError (the predecessor name of the same thing)', () => {
    const error = new OrchestratorError('rejected');

    expect(isPluginError(error)).toBe(true);
    expect(error.setStatus).toBe(true);
  });

  it('keeps the cause and the code', () => {
    const cause = new Error('root');

    const error = new PluginError('wrapped', { cause, code: 'E42' });

    expect(error.cause).toBe(cause);
    expect(error.code).toBe('E42');
  });

  it('recognises an error of another copy of the kit by its Symbol.for brand', () => {
    const foreign = Object.create(Error.prototype, {
      [Symbol.for('@plugboard/plugin-kit/OrchestratorError')]: { value: true },
    });

    expect(isOrchestratorError(foreign)).toBe(true);
    expect(isPluginError(foreign)).toBe(false);
  });

  it('names the result limit in ResultTooLargeError', () => {
    expect(new ResultTooLargeError(5000, 4096).message).toBe(
      'result is 5000 bytes of JSON; the limit is 4096 bytes (LIMITS.resultBytes). Store large outputs elsewhere (e.g. S3) and return a reference.',
    );
  });

  it('lists every problem of invalid construct props', () => {
    const error = new InvalidPluginPropsError('OrchestratorPlugin Stack/P', ['activity: bad', 'stage: bad']);

    expect(error.message).toBe(
      'OrchestratorPlugin Stack/P has 2 invalid props:\n  - activity: bad\n  - stage: bad',
    );
  });
});
