// The coordinator's side of the load generator: starts the worker processes (bench/load_worker.ts),
// sends each one its command, collects the replies and merges what they measured.

import type { Command, PhaseResult, WorkerReply, WorkerReport } from "./commands.ts";
import { TextLineStream } from "../tests/support/lines.ts";
import { track } from "./cleanup.ts";
import { spawnDeno, stopProcess } from "./processes.ts";
import { LatencyHistogram } from "./stats.ts";

const WORKER = new URL("./load_worker.ts", import.meta.url).pathname;
const STDERR_KEPT = 4_000;

class WorkerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: ReadableStreamDefaultReader<string>;
  readonly #stderrDone: Promise<void>;
  #stderr = "";

  constructor() {
    const child = spawnDeno(["run", "-A", WORKER], "piped");
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    ).getReader();
    this.#stderrDone = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEPT);
      }
    })();
  }

  get pid(): number {
    return this.#child.pid;
  }

  async run(command: Command): Promise<WorkerReport> {
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
    const { value, done } = await this.#lines.read();
    if (done) throw new Error(`Generator worker ${this.pid} died: ${this.#stderr.trim()}`);
    const reply = JSON.parse(value) as WorkerReply;
    if (!reply.ok) throw new Error(`Generator worker ${this.pid}: ${reply.error}`);
    return reply.report;
  }

  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await stopProcess(this.#child);
    await this.#lines.cancel().catch(() => {});
    await this.#stderrDone;
  }
}

/** A fixed set of generator worker processes, reused by every scenario. */
export class Generator {
  readonly #workers: WorkerProcess[];

  private constructor(workers: WorkerProcess[]) {
    this.#workers = workers;
  }

  static start(count: number): Generator & AsyncDisposable {
    const workers = Array.from({ length: count }, () => new WorkerProcess());
    return track(new Generator(workers), async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
    });
  }

  get size(): number {
    return this.#workers.length;
  }

  get pids(): number[] {
    return this.#workers.map((worker) => worker.pid);
  }

  /** Runs `commands[w]` on worker w (none where it is null); returns the reports in order. */
  async run(commands: ReadonlyArray<Command | null>): Promise<Array<WorkerReport | null>> {
    return await Promise.all(
      this.#workers.map((worker, index) => {
        const command = commands[index];
        return command ? worker.run(command) : null;
      }),
    );
  }

  /** Runs the same command on every worker. */
  async broadcast(command: Command): Promise<WorkerReport[]> {
    return await Promise.all(this.#workers.map((worker) => worker.run(command)));
  }
}

/** What all workers measured in one phase. */
export interface Measured {
  completed: number;
  windowMs: number;
  histogram: LatencyHistogram;
  errors: number;
  problems: string[];
}

export function mergePhases(phases: PhaseResult[]): Measured {
  const histogram = new LatencyHistogram();
  for (const phase of phases) histogram.merge(phase.histogram);
  return {
    completed: phases.reduce((sum, phase) => sum + phase.completed, 0),
    windowMs: Math.max(0, ...phases.map((phase) => phase.windowMs)),
    histogram,
    errors: phases.reduce((sum, phase) => sum + phase.errors, 0),
    problems: phases.flatMap((phase) => phase.problems),
  };
}
