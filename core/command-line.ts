import { type ParseArgsConfig, parseArgs } from 'node:util';
import { KnownError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<T extends Options> = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];

/** A flag whose value is out of bounds; the message names the flag. */
export class FlagError extends KnownError {
  constructor(message: string) {
    super('invalid_flag', message);
  }
}

/**
 * Parses a command's flags and hands them to `interpret`, which may check and convert them (throwing FlagError).
 * Returns what it made, or the exit code when the command is done: 0 after printing the usage for `--help`, 2 after
 * an unknown, malformed or out-of-bounds flag (with the usage on stderr).
 */
export function readFlags<T extends Options, R = Values<T>>(
  options: T,
  usage: string,
  interpret: (values: Values<T>) => R = (values) => values as R,
): R | number {
  try {
    const { values } = parseArgs({ options, strict: true });
    if ((values as { help?: unknown }).help === true) {
      console.log(usage);
      return 0;
    }
    return interpret(values);
  } catch (error) {
    const fromParser = String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
    if (!(error instanceof FlagError) && !fromParser) throw error;
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
}

/** The integer a flag's text names, within bounds, or a FlagError saying what is wrong. */
export function integerFlag(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FlagError(`--${name} must be an integer from ${min} to ${max}, not "${text}"`);
  }
  return value;
}
