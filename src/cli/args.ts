import fs from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { PageRequest } from '../domain/pagination.js';
import { parseDuration } from '../util/duration.js';
import { UsageError } from './output.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Every command prints JSON with this flag. */
export const jsonOption = { json: { type: 'boolean' } } as const;

/** Every list command pages with these. */
export const pageOptions = { limit: { type: 'string' }, cursor: { type: 'string' } } as const;

/**
 * node:util parseArgs, strict, with its errors turned into one-line usage errors. Boolean flags
 * also take a `--no-` form, so an update can switch a setting off.
 */
export function parse<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: separate(argv, options, allowPositionals), options, strict: true, allowPositionals, allowNegative: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/**
 * Generated ids (base64url) may start with "-", which parseArgs takes for a flag, so a script
 * would fail now and then. Flag values are joined to their flag (`--x=value`) and, as no command
 * has short flags, tokens without a leading "--" go after a "--" as positionals.
 */
function separate(argv: string[], options: Options, allowPositionals: boolean): string[] {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let index = 0; index < argv.length; index += 1) {
    const token = argv[index]!;
    if (token === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    const name = token.slice(2);
    if (token.startsWith('--') && Object.hasOwn(options, name) && options[name]!.type === 'string' && index + 1 < argv.length) {
      index += 1;
      flags.push(`${token}=${argv[index]!}`);
    } else if (allowPositionals && !token.startsWith('--')) {
      positionals.push(token);
    } else {
      flags.push(token);
    }
  }
  return positionals.length > 0 ? [...flags, '--', ...positionals] : flags;
}

/** For commands that act on one thing: its id is the only positional argument. */
export function parseWithId<O extends Options>(argv: string[], options: O, what: string) {
  const { values, positionals } = parse(argv, options, true);
  if (positionals.length > 1) throw new UsageError(`expected one ${what}, got ${positionals.length}: ${positionals.join(' ')}`);
  return { values, id: required(positionals[0], what) };
}

export function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

export function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${flag} takes a whole number greater than 0`);
  return Number(value);
}

export function pageRequest(values: { limit?: string | undefined; cursor?: string | undefined }): PageRequest {
  return { limit: positiveInteger(values.limit, '--limit'), cursor: values.cursor };
}

/** `--grant a,b --grant c` -> [a, b, c]; `--grant ""` -> [] */
export function commaList(values: string[] | undefined): string[] | undefined {
  return values?.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
}

/** A repeatable flag; given only as `""` it is the empty list, which is how an update clears it. */
export function list(values: string[] | undefined): string[] | undefined {
  return values?.filter((value) => value !== '');
}

/** An optional setting on update: absent keeps it, `""` clears it (null). */
export function clearable(value: string | undefined): string | null | undefined {
  return value === '' ? null : value;
}

/** "300", "5m", "1h", "30d" -> whole seconds. */
export function seconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseDuration(value);
  if (parsed === undefined || !Number.isInteger(parsed)) {
    throw new UsageError(`${flag} takes a whole number of seconds, minutes, hours or days, such as 300, 5m, 1h or 30d`);
  }
  return parsed;
}

export function clearableSeconds(value: string | undefined, flag: string): number | null | undefined {
  return value === '' ? null : seconds(value, flag);
}

/** A JSON value given inline or as `@file`; `""` clears it. */
export async function clearableJson(value: string | undefined, flag: string): Promise<unknown> {
  if (value === undefined || value === '') return clearable(value);
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = await fs.readFile(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`${flag}: cannot read ${value.slice(1)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${flag} takes JSON or @file holding JSON`);
  }
}
