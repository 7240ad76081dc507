// A TCP relay a test controls, put between servers and a backend (MySQL, say): `cut` closes
// every relayed connection and refuses new ones, as an unreachable backend would; `restore`
// listens again on the same port.

export interface TcpRelay {
  readonly port: number;
  /** Closes every relayed connection and stops accepting until `restore`. */
  cut(): Promise<void>;
  restore(): void;
  /** Cuts for good. */
  stop(): Promise<void>;
}

export function startRelay(port: number, target: { hostname: string; port: number }): TcpRelay {
  let listener: Deno.Listener | null = null;
  let accepting: Promise<void> = Promise.resolve();
  const open = new Set<Deno.Conn>();
  const piping = new Set<Promise<void>>();

  const relay = async (client: Deno.Conn) => {
    open.add(client);
    let upstream: Deno.Conn | undefined;
    try {
      upstream = await Deno.connect(target);
      open.add(upstream);
      await Promise.allSettled([
        client.readable.pipeTo(upstream.writable),
        upstream.readable.pipeTo(client.writable),
      ]);
    } catch {
      // The backend refused, or the relay was cut.
    } finally {
      for (const conn of [client, upstream]) {
        if (!conn) continue;
        open.delete(conn);
        closeQuietly(conn);
      }
    }
  };

  const listen = () => {
    const current = Deno.listen({ hostname: "127.0.0.1", port });
    listener = current;
    accepting = (async () => {
      try {
        for await (const client of current) {
          const done: Promise<void> = relay(client).finally(() => piping.delete(done));
          piping.add(done);
        }
      } catch {
        // The listener was closed.
      }
    })();
  };

  const cut = async () => {
    listener?.close();
    listener = null;
    await accepting;
    for (const conn of open) closeQuietly(conn);
    await Promise.allSettled([...piping]);
  };

  listen();
  return {
    port,
    cut,
    restore() {
      if (!listener) listen();
    },
    stop: cut,
  };
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
