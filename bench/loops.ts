// The traffic a generator worker drives through its clients: batched connect + login, ping-pong
// pairs, one-sender fan-out and back-to-back requests. Every loop is closed: a pair sends its
// next message only when the previous one has arrived; the fan-out sender keeps a fixed window
// of messages not yet received by every member; so the server sets the pace. Paced pairs also
// wait until their next message is due, and count its latency from then: a server that cannot
// keep up with the offered rate shows it as a growing delay, not as a lower rate alone.

import { Inbox } from "../lib/client/inbox.ts";
import type { Frame } from "../lib/protocol.ts";
import type {
  FanoutCommand,
  OpenCommand,
  PairsCommand,
  RequestsCommand,
  SlowReaderCommand,
  SlowReaderReport,
} from "./commands.ts";
import { LoadClient } from "./load_client.ts";
import type { Phase } from "./phase.ts";

/** Clients by index; a hole is a client that failed to connect or log in (already counted). */
export type Clients = Array<LoadClient | undefined>;

/** A message text carrying its sequence number and the sender's clock: "seq sentAt". */
function stamp(seq: number, sentAt = performance.now()): string {
  return `${seq} ${sentAt}`;
}

function readStamp(push: Frame): { seq: number; sentAt: number } | null {
  const [seq, sentAt] = String(push.msg).split(" ").map(Number);
  return Number.isFinite(seq) && Number.isFinite(sentAt) ? { seq, sentAt } : null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Connects (and logs in) `command.count` clients, appending them to `clients`. */
export async function openClients(
  clients: Clients,
  command: OpenCommand,
  phase: Phase,
  report: (problem: string) => void,
): Promise<string[]> {
  const nodes: string[] = [];
  const { login } = command;
  const openOne = async (index: number, slot: number) => {
    phase.begin();
    const started = performance.now();
    let client: LoadClient | undefined;
    try {
      client = await LoadClient.connect(command.port, report);
      if (login) {
        const id = login.ids[index];
        const frame = login.password === null ? { msgid: 1, id } : {
          msgid: 1,
          id,
          password: login.password,
          ...(login.receipts ? { receipts: true } : {}),
        };
        const reply = await client.request(frame);
        if (reply.errno !== 0) throw new Error(`login of user ${id}: ${JSON.stringify(reply)}`);
        nodes[index] = String(reply.node);
      }
      clients[slot] = client;
      phase.complete(performance.now() - started);
    } catch (error) {
      await client?.close();
      phase.abort(`connect/login failed: ${messageOf(error)}`);
    }
  };
  const first = clients.length;
  clients.length = first + command.count;
  for (let start = 0; start < command.count; start += command.batch) {
    const end = Math.min(command.count, start + command.batch);
    const batch = [];
    for (let index = start; index < end; index++) batch.push(openOne(index, first + index));
    await Promise.all(batch);
  }
  return nodes;
}

export function runPairs(clients: Clients, command: PairsCommand, phase: Phase): void {
  for (const pair of command.pairs) {
    const a = clients[pair.a];
    const b = clients[pair.b];
    if (!a || !b) {
      phase.fail("pair not started: one of its clients is not connected");
      continue;
    }
    let seq = 0;
    const { intervalMs } = command;
    /** When the next message is due (paced pairs start at random points of one interval). */
    let due = performance.now() + (intervalMs === null ? 0 : Math.random() * intervalMs);
    const sendNow = (from: LoadClient, frame: Frame) => {
      if (!phase.running) return;
      const message = { ...frame, msg: intervalMs === null ? stamp(++seq) : stamp(++seq, due) };
      phase.begin();
      if (command.acked) phase.expectOk(from.request(message), "chat message");
      else from.send(message);
    };
    const send = (from: LoadClient, frame: Frame) => {
      const wait = due - performance.now();
      if (wait > 0) setTimeout(() => sendNow(from, frame), wait);
      else sendNow(from, frame);
    };
    // Receipts are batched by the project's own client code (100 ms, up to 1000 mids each).
    const inboxOf = (self: LoadClient) =>
      new Inbox((mids) => {
        if (phase.running) phase.expectOk(self.request({ msgid: 13, mids }), "receipt");
      });
    const receive = (self: LoadClient, reply: Frame) => {
      const inbox = command.receipts ? inboxOf(self) : null;
      return (push: Frame) => {
        const received = readStamp(push);
        if (received?.seq !== seq) {
          phase.fail(`pair got ${JSON.stringify(push.msg)}, expected message ${seq}`);
          return;
        }
        phase.complete(performance.now() - received.sentAt);
        inbox?.receive(Number(push.mid));
        if (intervalMs !== null) due += intervalMs;
        send(self, reply);
      };
    };
    a.onPush = receive(a, pair.aToB);
    b.onPush = receive(b, pair.bToA);
    send(a, pair.aToB);
  }
}

export function runFanout(clients: Clients, command: FanoutCommand, phase: Phase): void {
  const sender = clients[command.sender];
  const members = command.recipients.map((index) => clients[index]);
  if (!sender || members.some((member) => !member)) {
    phase.fail("fan-out not started: the sender or a member is not connected");
    return;
  }
  /** seq → members still to receive it. */
  const outstanding = new Map<number, number>();
  let sent = 0;
  const send = () => {
    if (!phase.running) return;
    const seq = ++sent;
    outstanding.set(seq, members.length);
    phase.begin(members.length);
    const message = { ...command.frame, msg: stamp(seq) };
    if (command.acked) phase.expectOk(sender.request(message), "group message");
    else sender.send(message);
  };
  for (const member of members as LoadClient[]) {
    let next = 1;
    member.onPush = (push) => {
      const received = readStamp(push);
      const left = received ? outstanding.get(received.seq) : undefined;
      if (!received || left === undefined || received.seq < next) {
        phase.fail(`member got ${JSON.stringify(push.msg)}, expected message ${next} or later`);
        return;
      }
      next = received.seq + 1;
      phase.complete(performance.now() - received.sentAt);
      if (left > 1) {
        outstanding.set(received.seq, left - 1);
      } else {
        outstanding.delete(received.seq);
        send();
      }
    };
  }
  for (let k = 0; k < command.window; k++) send();
}

/** Starts every client's request loop; returns the ids the server assigned (filled as it runs). */
export function runRequests(clients: Clients, command: RequestsCommand, phase: Phase): number[] {
  const ids: number[] = [];
  let named = 0;
  const loop = async (client: LoadClient, request: Frame) => {
    while (phase.running) {
      const frame = command.namePrefix === null
        ? request
        : { ...request, name: `${command.namePrefix}${named++}` };
      phase.begin();
      const started = performance.now();
      let reply: Frame;
      try {
        reply = await client.request(frame);
      } catch (error) {
        phase.abort(`request failed: ${messageOf(error)}`);
        return;
      }
      if (reply.errno !== 0) {
        phase.abort(`request ${JSON.stringify(frame)}: ${JSON.stringify(reply)}`);
        return;
      }
      phase.complete(performance.now() - started);
      if (typeof reply.id === "number" && command.namePrefix !== null) ids.push(reply.id);
      if (command.followUp) {
        const followUp = client.request(command.followUp);
        phase.expectOk(followUp, `follow-up ${JSON.stringify(command.followUp)}`);
        await followUp.catch(() => {});
      }
    }
  };
  command.requests.forEach((request, index) => {
    const client = clients[index];
    if (client) void loop(client, request);
    else phase.fail("request loop not started: its client is not connected");
  });
  return ids;
}

/** How long a reader that stopped reading gets, after the phase, to find its connection closed. */
const CUT_OFF_WAIT_MS = 3_000;

/**
 * Starts the senders of a slow-reader phase (see SlowReaderCommand) and stops the reader reading
 * if asked; the returned function, called once the phase has finished, lets the reader read
 * again and says what became of it.
 */
export function runSlowReader(
  clients: Clients,
  command: SlowReaderCommand,
  phase: Phase,
): () => Promise<SlowReaderReport> {
  const reader = clients[command.reader];
  const senders = command.senders.map((index) => clients[index]);
  if (!reader || senders.some((sender) => !sender)) {
    phase.fail("slow reader not started: the reader or a sender is not connected");
    return () => Promise.resolve({ pushes: 0, cutOff: false });
  }
  let pushes = 0;
  reader.onPush = () => pushes++;
  if (!command.readerReads) reader.pauseReading();
  const padding = "x".repeat(command.msgChars);
  const { intervalMs } = command;
  (senders as LoadClient[]).forEach((sender, index) => {
    // The senders start spread over one interval, not all at once.
    let due = performance.now() + index * intervalMs / senders.length;
    const tick = () => {
      if (!phase.running) return;
      const dueAt = due;
      due += intervalMs;
      phase.begin();
      const text = stamp(0, dueAt);
      sender.request({ msgid: 6, toid: command.toid, msg: text + padding.slice(text.length) })
        .then(
          (reply) =>
            reply.errno === 0
              ? phase.complete(performance.now() - dueAt)
              : phase.abort(`chat message: ${JSON.stringify(reply)}`),
          (error) => phase.abort(`chat message: ${messageOf(error)}`),
        );
      setTimeout(tick, Math.max(0, due - performance.now()));
    };
    setTimeout(tick, Math.max(0, due - performance.now()));
  });
  return async () => {
    if (command.readerReads) return { pushes, cutOff: false };
    reader.resumeReading();
    return { pushes, cutOff: await reader.endsWithin(CUT_OFF_WAIT_MS) };
  };
}
