import type { Config } from '../config.js';
import { UsageError } from './output.js';

export type Subcommand = (config: Config, argv: string[]) => Promise<void>;

/** Runs `latchkey <group> <name> ...` with the group's handler of that name. */
export function dispatch(group: string, subcommands: Record<string, Subcommand>) {
  return (config: Config, [name, ...argv]: string[]): Promise<void> => {
    if (name === undefined || !Object.hasOwn(subcommands, name)) {
      const names = Object.keys(subcommands).join(', ');
      throw new UsageError(name === undefined ? `${group} needs a command: ${names}` : `unknown command "${group} ${name}" (${group} commands: ${names})`);
    }
    return subcommands[name]!(config, argv);
  };
}
