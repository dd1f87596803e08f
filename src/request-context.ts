import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the HTTP request being handled, wherever the code handling it runs. */
export interface RequestContext {
  readonly id: string;
  /**
   * The oidc-provider route that answered (its name, such as `token`) and that route's
   * parameters. The provider runs as its own Koa app, so its router's match is recorded here
   * for the access log and the metrics to read after it is done.
   */
  providerRoute?: { name: string; params: Record<string, string> };
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runInRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/** The request this code runs for, or undefined outside one (start-up, background jobs). */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}
