// The bench's baseline: a bare relay with no chat logic, on the chat server's own framing and
// connection code (lib/codec.ts, lib/connection.ts), so that a ratio to it isolates the cost of
// the chat logic. Run as its own process: `deno run -A bench/echo_server.ts [port]`.
//
//   {msgid: 1, id, seq}   binds this connection to `id`; reply {msgid: 2, errno: 0, seq, node}
//   {to, msg, ...}        forwards the frame, encoded once, to the connection(s) bound to `to`
//                         (an id or an array of ids); no reply, unless it carries a `seq`: then
//                         it is forwarded without it and answered {msgid: 11, errno: 0, seq,
//                         time, mid} like the chat server's ACK (the protocol's floor: every
//                         request gets exactly one response)
//   {hash, seq}           one scrypt hash of `hash` at the chat server's cost (N=16384, r=8,
//                         p=1); reply {errno: 0, seq}: the floor under register and login

import { ClientConnection } from "../lib/connection.ts";
import { hashPassword } from "../lib/password.ts";
import { DEFAULT_MAX_FRAME, type Frame } from "../lib/protocol.ts";
import { SharedFrame } from "../lib/shared_frame.ts";

const NODE = "relay";
const bound = new Map<number, ClientConnection>();

let relayed = 0;

async function handle(connection: ClientConnection, frame: Frame): Promise<void> {
  const { seq, ...forwarded } = frame;
  if (frame.to !== undefined) {
    const targets = Array.isArray(frame.to) ? frame.to : [frame.to];
    const shared = new SharedFrame(forwarded);
    for (const id of targets) {
      const target = bound.get(id);
      if (target) target.sendShared(shared);
      else connection.send({ msgid: 12, errno: 5, errmsg: `no connection bound to ${id}` });
    }
    relayed++;
    if (seq !== undefined) {
      connection.send({ msgid: 11, errno: 0, seq, time: new Date().toISOString(), mid: relayed });
    }
  } else if (frame.msgid === 1 && typeof frame.id === "number") {
    bound.set(frame.id, connection);
    connection.user = { id: frame.id, name: String(frame.id) };
    connection.send({ msgid: 2, errno: 0, seq, node: NODE });
  } else if (typeof frame.hash === "string") {
    await hashPassword(frame.hash);
    connection.send({ errno: 0, seq });
  } else {
    connection.send({ msgid: 12, errno: 3, errmsg: "bad request", seq });
  }
}

async function serve(connection: ClientConnection): Promise<void> {
  for await (const decoded of connection.frames()) {
    if (decoded.kind === "frame") await handle(connection, decoded.frame);
    else connection.send({ msgid: 12, errno: 3, errmsg: "bad frame" });
  }
  const id = connection.user?.id;
  if (id !== undefined && bound.get(id) === connection) bound.delete(id);
  connection.close();
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 0) });
console.log(`echo relay listening on 127.0.0.1:${listener.addr.port} `);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => Deno.exit(0));
}
let nextId = 1;
for await (const conn of listener) {
  void serve(new ClientConnection(nextId++, conn, { maxFrame: DEFAULT_MAX_FRAME }));
}
