import net from 'node:net';

/**
 * A TCP proxy a test controls: in front of PostgreSQL, cut as a network or database outage
 * would; in front of Latchkey nodes, a load balancer that takes a dead node out.
 */
export interface TcpProxy {
  /** The URL it was started for, with the proxy's address in place of the target's. */
  readonly url: string;
  /**
   * The outage: every open connection is reset, and new ones are accepted but never forwarded,
   * so a client waits for an answer that does not come (its connect timeout has to fire).
   */
  cut(): void;
  /**
   * A database host that vanished without closing its sockets: open connections stay open but
   * nothing more passes on them, ever, and new ones are held as during a cut.
   */
  vanish(): void;
  /** Forwards new connections again; those held during the outage are reset. */
  restore(): void;
  /** Sends new connections to the host and port of `url` from now on. */
  retarget(url: string): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const addressOf = (url: string) => {
    const { hostname, port, protocol } = new URL(url);
    return { host: hostname, port: Number(port || (protocol === 'http:' ? 80 : 5432)) };
  };
  let target = addressOf(targetUrl);
  const open = new Set<net.Socket>();
  const held = new Set<net.Socket>();
  const silenced = new Set<net.Socket>();
  let down = false;

  const track = (socket: net.Socket, where: Set<net.Socket>) => {
    where.add(socket);
    socket.once('close', () => where.delete(socket));
    // A reset from either side is what the test provokes; it only ends this pair.
    socket.on('error', () => socket.destroy());
  };

  const server = net.createServer((client) => {
    if (down) {
      // Accepted and never read: the client's startup message waits in the socket buffer.
      track(client, held);
      return;
    }
    const upstream = net.connect(target.port, target.host);
    track(client, open);
    track(upstream, open);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const through = new URL(targetUrl);
  through.hostname = '127.0.0.1';
  through.port = String((server.address() as net.AddressInfo).port);

  const resetAll = (sockets: Set<net.Socket>) => {
    for (const socket of [...sockets]) socket.resetAndDestroy();
  };

  return {
    url: through.toString(),
    cut() {
      down = true;
      resetAll(open);
    },
    vanish() {
      down = true;
      for (const socket of [...open]) {
        socket.unpipe();
        // Read and dropped, so neither side sees an error or a close.
        socket.on('data', () => {});
        open.delete(socket);
        silenced.add(socket);
        socket.once('close', () => silenced.delete(socket));
      }
    },
    restore() {
      down = false;
      resetAll(held);
    },
    retarget(url) {
      target = addressOf(url);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      resetAll(open);
      resetAll(held);
      resetAll(silenced);
      await closed;
    },
  };
}
