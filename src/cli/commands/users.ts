import fs from 'node:fs/promises';
import { MAX_IMPORT_BYTES, splitImport, type ImportResult } from '../../domain/user-import.js';
import { LatchkeyError } from '../../errors.js';
import { clearable, jsonOption, pageOptions, pageRequest, parse, parseWithId, required } from '../args.js';
import { fields, pageTable, printResult } from '../output.js';
import { promptPassword } from '../prompt.js';
import { execute } from '../runner.js';
import { dispatch, type Subcommand } from '../subcommands.js';

// The control socket of a running server takes requests of up to 1 MiB, so a file goes in pieces.
const IMPORT_PIECE_BYTES = 512 * 1024;

const unreadable: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' };

async function readImportFile(file: string): Promise<string> {
  try {
    const { size } = await fs.stat(file);
    if (size > MAX_IMPORT_BYTES) {
      throw new LatchkeyError('input.too_large', `${file} is larger than ${MAX_IMPORT_BYTES / 1024 / 1024} MB; split it and import each part`);
    }
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof LatchkeyError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new LatchkeyError('input.invalid', `cannot read ${file}: ${unreadable[code] ?? (code || (error as Error).message)}`);
  }
}

function importSummary(result: ImportResult): string {
  const where = (line: number) => (result.source === 'auth0' ? `[${line}]` : `line ${line}`);
  return [
    `imported ${result.imported} ${result.imported === 1 ? 'user' : 'users'}; skipped ${result.skipped.length}${result.skipped.length > 0 ? ':' : ''}`,
    ...result.skipped.map((entry) => `  ${where(entry.line)}${entry.email ? ` ${entry.email}` : ''}: ${entry.reason}`),
  ].join('\n');
}

interface FactorsReset {
  user_id: string;
  removed: { totp: boolean; passkeys: number; recovery_codes: number };
}

function resetSummary(reference: string) {
  return ({ removed }: FactorsReset): string => {
    const parts = [
      ...(removed.totp ? ['the authenticator app'] : []),
      ...(removed.passkeys > 0 ? [`${removed.passkeys} ${removed.passkeys === 1 ? 'passkey' : 'passkeys'}`] : []),
      ...(removed.recovery_codes > 0 ? [`${removed.recovery_codes} recovery ${removed.recovery_codes === 1 ? 'code' : 'codes'}`] : []),
    ];
    return parts.length > 0 ? `reset the second factors of ${reference}: removed ${parts.join(', ')}` : `${reference} had no second factor to reset`;
  };
}

/** Commands that take only the user's id and answer with the user. */
function userAction(operation: 'users.get' | 'users.disable' | 'users.enable'): Subcommand {
  return async (config, argv) => {
    const { values, id } = parseWithId(argv, jsonOption, 'user id');
    printResult(await execute(config, operation, { id }), { json: values.json ?? false, human: fields });
  };
}

export const usersCommand = dispatch('users', {
  async create(config, argv) {
    const { values } = parse(argv, {
      email: { type: 'string' },
      name: { type: 'string' },
      password: { type: 'string' },
      'email-verified': { type: 'boolean' },
      admin: { type: 'boolean' },
      ...jsonOption,
    });
    const email = required(values.email, '--email');
    const password = values.password ?? (await promptPassword(`Password for ${email}: `));
    const user = await execute(config, 'users.create', {
      email,
      password,
      emailVerified: values['email-verified'] ?? false,
      isAdmin: values.admin ?? false,
      name: values.name,
    });
    printResult(user, { json: values.json ?? false, human: fields });
  },
  get: userAction('users.get'),
  async list(config, argv) {
    const { values } = parse(argv, { email: { type: 'string' }, ...pageOptions, ...jsonOption });
    const page = await execute(config, 'users.list', { ...pageRequest(values), email: values.email });
    printResult(page, { json: values.json ?? false, human: pageTable(['id', 'email', 'name', 'email_verified', 'is_admin', 'disabled']) });
  },
  async update(config, argv) {
    const { values, id } = parseWithId(
      argv,
      { email: { type: 'string' }, name: { type: 'string' }, 'email-verified': { type: 'boolean' }, admin: { type: 'boolean' }, ...jsonOption },
      'user id',
    );
    const changes = { email: values.email, name: clearable(values.name), emailVerified: values['email-verified'], isAdmin: values.admin };
    printResult(await execute(config, 'users.update', { id, changes }), { json: values.json ?? false, human: fields });
  },
  async 'set-password'(config, argv) {
    const { values, id } = parseWithId(argv, { password: { type: 'string' }, ...jsonOption }, 'user id');
    const password = values.password ?? (await promptPassword(`New password for user ${id}: `));
    printResult(await execute(config, 'users.set-password', { id, password }), { json: values.json ?? false, human: fields });
  },
  disable: userAction('users.disable'),
  /** A lost phone or key: the user signs in with the password again (and enrols anew where MFA is required). */
  async 'reset-factors'(config, argv) {
    const { values, id: reference } = parseWithId(argv, jsonOption, 'user id or email');
    const result = (await execute(config, 'users.reset-factors', { user: reference })) as FactorsReset;
    printResult(result, { json: values.json ?? false, human: resetSummary(reference) });
  },
  enable: userAction('users.enable'),
  async import(config, argv) {
    const { values, id: file } = parseWithId(argv, jsonOption, 'file');
    const content = await readImportFile(file);
    const parts: ImportResult[] = [];
    for (const piece of splitImport(content, IMPORT_PIECE_BYTES)) parts.push((await execute(config, 'users.import', piece)) as ImportResult);
    const result: ImportResult = {
      source: parts[0]!.source,
      imported: parts.reduce((total, part) => total + part.imported, 0),
      skipped: parts.flatMap((part) => part.skipped),
    };
    printResult(result, { json: values.json ?? false, human: importSummary });
  },
  async delete(config, argv) {
    const { values, id } = parseWithId(argv, jsonOption, 'user id');
    const result = await execute(config, 'users.delete', { id });
    printResult(result, { json: values.json ?? false, human: () => `deleted user ${id}` });
  },
});
