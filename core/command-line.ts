import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<T extends Options> = ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'];

/**
 * Parses a command's flags. Returns the values, or the exit code when the command is done: 0 after printing the
 * usage for `--help`, 2 after an unknown or malformed flag (with the usage on stderr).
 */
export function readFlags<T extends Options>(options: T, usage: string): Values<T> | number {
  try {
    const { values } = parseArgs({ options, strict: true });
    if ((values as { help?: unknown }).help === true) {
      console.log(usage);
      return 0;
    }
    return values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
}
