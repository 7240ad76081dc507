// The traffic a generator worker drives through its clients: batched connect + login, ping-pong
// pairs, one-sender fan-out and back-to-back requests. Every loop is closed (window 1): the next
// message leaves only when the previous one has arrived, so the server sets the pace.

import type { Frame } from "../lib/protocol.ts";
import type { FanoutCommand, OpenCommand, PairsCommand, RequestsCommand } from "./commands.ts";
import { LoadClient } from "./load_client.ts";
import type { Phase } from "./phase.ts";

/** A message text carrying its sequence number and the sender's clock: "seq sentAt". */
function stamp(seq: number): string {
  return `${seq} ${performance.now()}`;
}

function readStamp(push: Frame): { seq: number; sentAt: number } | null {
  const [seq, sentAt] = String(push.msg).split(" ").map(Number);
  return Number.isFinite(seq) && Number.isFinite(sentAt) ? { seq, sentAt } : null;
}

/** Connects (and logs in) `command.count` clients, appending them to `clients` as they come. */
export async function openClients(
  clients: LoadClient[],
  command: OpenCommand,
  phase: Phase,
  report: (problem: string) => void,
): Promise<string[]> {
  const nodes: string[] = [];
  const { login } = command;
  const openOne = async (index: number) => {
    const client = await LoadClient.connect(command.port, report);
    clients[index] = client;
    if (!login) return;
    const id = login.ids[index];
    phase.begin();
    const started = performance.now();
    const reply = await client.request(
      login.password === null ? { msgid: 1, id } : { msgid: 1, id, password: login.password },
    );
    if (reply.errno !== 0) throw new Error(`login of user ${id} failed: ${JSON.stringify(reply)}`);
    phase.complete(performance.now() - started);
    nodes[index] = String(reply.node);
  };
  const first = clients.length;
  for (let start = 0; start < command.count; start += command.batch) {
    const end = Math.min(command.count, start + command.batch);
    const batch = [];
    for (let k = start; k < end; k++) batch.push(openOne(first + k));
    await Promise.all(batch);
  }
  return nodes;
}

export function runPairs(clients: LoadClient[], command: PairsCommand, phase: Phase): void {
  for (const pair of command.pairs) {
    const a = clients[pair.a];
    const b = clients[pair.b];
    let seq = 0;
    const send = (from: LoadClient, frame: Frame) => {
      if (!phase.running) return;
      const message = { ...frame, msg: stamp(++seq) };
      phase.begin();
      if (command.acked) phase.expectOk(from.request(message), "chat message");
      else from.send(message);
    };
    const receive = (self: LoadClient, reply: Frame) => (push: Frame) => {
      const received = readStamp(push);
      if (received?.seq !== seq) {
        phase.abort(`pair got ${JSON.stringify(push.msg)}, expected message ${seq}`);
        return;
      }
      phase.complete(performance.now() - received.sentAt);
      send(self, reply);
    };
    a.onPush = receive(a, pair.aToB);
    b.onPush = receive(b, pair.bToA);
    send(a, pair.aToB);
  }
}

export function runFanout(clients: LoadClient[], command: FanoutCommand, phase: Phase): void {
  const sender = clients[command.sender];
  let seq = 0;
  let waiting = 0;
  const send = () => {
    if (!phase.running) return;
    const message = { ...command.frame, msg: stamp(++seq) };
    waiting = command.recipients.length;
    phase.begin(waiting);
    if (command.acked) phase.expectOk(sender.request(message), "group message");
    else sender.send(message);
  };
  for (const index of command.recipients) {
    clients[index].onPush = (push) => {
      const received = readStamp(push);
      if (received?.seq !== seq) {
        phase.abort(`member got ${JSON.stringify(push.msg)}, expected message ${seq}`);
        return;
      }
      phase.complete(performance.now() - received.sentAt);
      if (--waiting === 0) send();
    };
  }
  send();
}

/** Starts every client's request loop; returns the ids the server assigned (filled as it runs). */
export function runRequests(
  clients: LoadClient[],
  command: RequestsCommand,
  phase: Phase,
): number[] {
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
        phase.abort(`request failed: ${error instanceof Error ? error.message : String(error)}`);
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
  command.requests.forEach((request, index) => void loop(clients[index], request));
  return ids;
}
