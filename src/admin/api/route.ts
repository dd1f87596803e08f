import type { z } from 'zod';
import type { Deps } from '../../deps.js';
import type { Actor } from '../../domain/audit.js';
import type { Renames } from './fields.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

type AnyObject = z.ZodObject<z.ZodRawShape>;

export interface HandlerInput<P> {
  deps: Deps;
  /** The admin making the request; `anonymous` on public routes. */
  actor: Actor;
  params: P;
  /** Query and body under the domain's (camelCase) names. */
  query: Record<string, unknown>;
  body: Record<string, unknown>;
  /** The body as text, on a route that takes an upload. */
  upload?: { type: string; text: string };
}

/** A body taken whole as text rather than as JSON fields: a file to import. */
export interface Upload {
  /** Media type -> the JSON Schema of what it holds, for the OpenAPI document. */
  types: Record<string, Record<string, unknown>>;
  limitBytes: number;
}

/**
 * One admin API operation. The router serves it and the OpenAPI document describes it from
 * this same entry, with the same schemas.
 */
export interface Route {
  method: Method;
  /** Below /admin/api/v1, in Koa syntax (`/clients/:id`). */
  path: string;
  tag: string;
  summary: string;
  params?: AnyObject;
  query?: AnyObject;
  body?: AnyObject;
  upload?: Upload;
  /** Wire names that are not the snake_case of the domain's. */
  renames?: Renames;
  status: 200 | 201 | 204;
  /** What a successful response holds. */
  response: string;
  /** Served without a token. */
  public?: boolean;
  /** Calls one domain function and shapes its result; undefined for 204. */
  handle(input: HandlerInput<Record<string, string>>): Promise<unknown>;
}

/** Types `handle`'s params from the params schema; the router validates them before calling. */
export function defineRoute<P extends AnyObject = z.ZodObject<{}>>(
  route: Omit<Route, 'params' | 'handle'> & { params?: P; handle(input: HandlerInput<z.output<P>>): Promise<unknown> },
): Route {
  return route as Route;
}

/**
 * Hands a request's fields to a domain function. The cast is safe because every domain
 * function parses its input again with its own schema and names any bad field.
 */
export function domainInput<T>(fields: Record<string, unknown>): T {
  return fields as T;
}
