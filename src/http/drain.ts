import http from 'node:http';

export interface DrainableServer {
  readonly server: http.Server;
  /**
   * Stops accepting connections and lets the requests in flight finish, each answered with
   * `Connection: close`; idle keep-alive connections close at once. Whatever is still open after
   * `timeoutMs` is destroyed. Resolves when no connection is left.
   */
  drain(timeoutMs: number): Promise<void>;
}

/** An HTTP server for `handler` that can shut down without cutting off the requests it is answering. */
export function createDrainableServer(handler: http.RequestListener): DrainableServer {
  const server = http.createServer({
    // Node's 5 s default is shorter than the idle timeout of the proxies and clients in front of
    // it (load balancers keep 60 s): a client reusing a connection the server has just closed sees
    // a reset instead of an answer. Outlive them; the drain still closes idle connections at once.
    keepAliveTimeout: 65_000,
  });
  const inFlight = new Set<http.ServerResponse>();
  let draining = false;

  // Registered before the handler, so a request arriving during the drain (on a connection
  // that was already open) is told to close the connection before the handler writes anything.
  server.on('request', (_request: http.IncomingMessage, response: http.ServerResponse) => {
    inFlight.add(response);
    if (draining) response.setHeader('Connection', 'close');
    response.once('close', () => {
      inFlight.delete(response);
      // A response that lost its Connection: close (Koa's error path resets headers) or had sent
      // its headers before the drain began leaves a keep-alive connection behind: close it now.
      if (draining) server.closeIdleConnections();
    });
  });
  server.on('request', handler);

  return {
    server,
    async drain(timeoutMs) {
      draining = true;
      // Node's close() also closes the keep-alive connections that are idle right now.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const response of inFlight) {
        if (!response.headersSent) response.setHeader('Connection', 'close');
      }
      const deadline = setTimeout(() => server.closeAllConnections(), timeoutMs);
      try {
        await closed;
      } finally {
        clearTimeout(deadline);
      }
    },
  };
}
