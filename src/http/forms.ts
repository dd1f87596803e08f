import type { Context } from 'koa';
import { LatchkeyError } from '../errors.js';
import type { Flash } from './first-party/session.js';

/** A parsed urlencoded body: repeated names come as arrays. */
export type FormBody = Record<string, unknown>;

export function formBody(body: unknown): FormBody {
  return body && typeof body === 'object' ? (body as FormBody) : {};
}

function values(body: FormBody, name: string): string[] {
  const value = body[name];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((item): item is string => typeof item === 'string');
}

/** The field as typed; missing is empty. */
export function text(body: FormBody, name: string): string {
  return values(body, name)[0] ?? '';
}

/** Trimmed; empty means "not given". */
export function optional(body: FormBody, name: string): string | undefined {
  const value = text(body, name).trim();
  return value === '' ? undefined : value;
}

/** One entry per line (textareas of URIs). */
export function lines(body: FormBody, name: string): string[] {
  return text(body, name)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** Every checked box of a group. */
export function checkedValues(body: FormBody, name: string): string[] {
  return values(body, name);
}

/** A lone checkbox: browsers send it only when checked. */
export function checked(body: FormBody, name: string): boolean {
  return values(body, name).length > 0;
}

/** A number field; what is not a number goes on to the domain's validation as NaN, which names the field. */
export function seconds(body: FormBody, name: string): number | undefined {
  const value = optional(body, name);
  return value === undefined ? undefined : Number(value);
}

export interface FormProblem {
  message: string;
  /** Form field -> what is wrong with it. */
  fields: Record<string, string>;
}

/**
 * A refusal the person can fix by editing the form: its message for the top of the form and
 * the `details` by field (`redirectUris.1` belongs to the redirectUris field). Anything
 * else (a server error, an expired session) is not the form's business and is rethrown.
 */
export function formProblem(error: unknown): FormProblem {
  if (!(error instanceof LatchkeyError) || error.status >= 500 || error.code.startsWith('admin.') || error.code === 'csrf.invalid') throw error;
  const fields: Record<string, string> = {};
  for (const [key, message] of Object.entries(error.details ?? {})) fields[key.split('.')[0]!] ??= message;
  return { message: error.message, fields };
}

/** Remembers a message for the next page and answers 303, so a reload does not repeat the POST. */
export function redirectAfterAction(ctx: Context, flash: Flash, to: string, message: string): void {
  flash.put(ctx, message);
  ctx.status = 303;
  ctx.redirect(to);
}

/**
 * Runs a form's action; when the person can fix what was refused, shows the form again with
 * the problem, answering with the refusal's status (and Retry-After when throttled).
 */
export async function submitForm(ctx: Context, action: () => Promise<void>, showForm: (problem: FormProblem) => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    await showForm(formProblem(error));
    // formProblem rethrew anything that is not a refusal the person can act on.
    const refusal = error as LatchkeyError;
    ctx.status = refusal.status;
    if (refusal.retryAfter !== undefined) ctx.set('Retry-After', String(refusal.retryAfter));
  }
}
