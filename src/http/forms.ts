import type { Context } from 'koa';
import { LatchkeyError } from '../errors.js';
import type { MessageKey, Params } from '../i18n/translate.js';
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
  /** What was refused, in English as domain code wrote it: views show it through `t.message`. */
  message: string;
  /** The message's own key, when it has one (a code's standard message): views show `t(key)` instead. */
  key?: MessageKey;
  /** Form field -> what is wrong with it (a domain message, shown through `t.message`). */
  fields: Record<string, string>;
}

/** True for parseInput's "field: problem; field: problem": every problem is shown beside its field. */
function isFieldSummary(error: LatchkeyError): boolean {
  const details = Object.entries(error.details ?? {});
  return details.length > 0 && error.message === details.map(([field, message]) => `${field}: ${message}`).join('; ');
}

/** What to say at the top of a form about a refusal the person can act on, for the views' `t`. */
export function problemText(error: LatchkeyError): { message: string; key?: MessageKey } {
  if (isFieldSummary(error)) return { message: 'Some details need changing: see the fields below.', key: 'form.fix_fields' };
  if (error.message === error.defaultMessage) return { message: error.message, key: `error.${error.code}` };
  return { message: error.message };
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
  return { ...problemText(error), fields };
}

/**
 * Answers 303 See Other to `to`, with no body: Koa's "Redirecting to …" is text no browser shows
 * and no translator should have to see.
 */
export function seeOther(ctx: Context, to: string): void {
  ctx.status = 303;
  ctx.redirect(to);
  ctx.body = '';
}

/**
 * Remembers a message for the next page and answers 303, so a reload does not repeat the POST.
 * The message is shown in the next page's language; string params are data (names, addresses).
 */
export function redirectAfterAction(ctx: Context, flash: Flash, to: string, key: MessageKey, params: Params = {}): void {
  flash.put(ctx, key, params);
  seeOther(ctx, to);
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
