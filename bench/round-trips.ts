import net from 'node:net';

/** Startup-phase requests that are answered with one byte and followed by the real startup message. */
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/**
 * Counts what a PostgreSQL client waits on: every Sync (the end of an extended-protocol query:
 * Parse/Bind/Execute/Sync) and every simple Query (BEGIN, COMMIT, plain SQL) it sends is one
 * round trip. Read off the wire between Latchkey and PostgreSQL, so it counts what really
 * happens, whatever the code thinks it does.
 */
function countingParser(onRoundTrip: () => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let startup = true;
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (startup) {
        if (pending.length < 8) return;
        const length = pending.readInt32BE(0);
        if (pending.length < length) return;
        const code = pending.readInt32BE(4);
        startup = code === SSL_REQUEST || code === GSSENC_REQUEST;
        pending = pending.subarray(length);
        continue;
      }
      if (pending.length < 5) return;
      const type = String.fromCharCode(pending[0]!);
      const length = pending.readInt32BE(1);
      if (pending.length < 1 + length) return;
      if (type === 'S' || type === 'Q') onRoundTrip();
      pending = pending.subarray(1 + length);
    }
  };
}

export interface RoundTripCounter {
  readonly port: number;
  /** Round trips so far, over every connection. */
  count(): number;
  close(): Promise<void>;
}

export async function startRoundTripCounter(target: { host: string; port: number }): Promise<RoundTripCounter> {
  let roundTrips = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const parse = countingParser(() => {
      roundTrips += 1;
    });
    client.on('data', (chunk: Buffer) => {
      parse(chunk);
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    count: () => roundTrips,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
