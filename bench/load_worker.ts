// A load generator worker process: holds a set of simulated clients and runs the commands of
// bench/commands.ts that the coordinator writes to its stdin, one JSON reply line per command
// on stdout. Runs in its own process (with a raised open-files limit) so that thousands of
// clients never share a process, an event loop or a CPU with the server under test.

import type { Command, SlowReaderReport, WorkerReply, WorkerReport } from "./commands.ts";
import { TextLineStream } from "../tests/support/lines.ts";
import {
  type Clients,
  openClients,
  runFanout,
  runPairs,
  runRequests,
  runSlowReader,
} from "./loops.ts";
import { Phase } from "./phase.ts";

const clients: Clients = [];
/** Problems seen on a connection between phases; charged to the next phase. */
const pending: string[] = [];
let current: Phase | null = null;
const report = (problem: string) => current ? current.fail(problem) : pending.push(problem);

async function execute(command: Command): Promise<WorkerReport> {
  const phase = new Phase("timing" in command ? command.timing : null);
  current = phase;
  for (const problem of pending.splice(0)) phase.fail(problem);
  let nodes: string[] = [];
  let ids: number[] = [];
  let readerOutcome: (() => Promise<SlowReaderReport>) | null = null;
  try {
    switch (command.op) {
      case "open":
        nodes = await openClients(clients, command, phase, report);
        break;
      case "pairs":
        runPairs(clients, command, phase);
        break;
      case "fanout":
        runFanout(clients, command, phase);
        break;
      case "requests":
        ids = runRequests(clients, command, phase);
        break;
      case "slow-reader":
        readerOutcome = runSlowReader(clients, command, phase);
        break;
      case "close":
        await closeAll();
        break;
    }
    const finished = await phase.finish();
    const reader = await readerOutcome?.();
    return { phase: finished, nodes, ids, ...(reader ? { reader } : {}) };
  } finally {
    current = null;
    for (const client of clients) if (client) client.onPush = null;
  }
}

async function closeAll(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client?.close()));
}

async function writeLine(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text + "\n");
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(
  new TextLineStream(),
);
for await (const line of lines) {
  let reply: WorkerReply;
  try {
    reply = { ok: true, report: await execute(JSON.parse(line) as Command) };
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  await writeLine(JSON.stringify(reply));
}
await closeAll();
