// Child processes of the bench (servers under test, generator workers): started through bash so
// their open-files limit can be raised (Deno cannot call setrlimit), registered for cleanup, and
// observed through /proc (resident memory, CPU time).

import { TextLineStream } from "../tests/support/lines.ts";
import { track } from "./cleanup.ts";

const OPEN_FILES = 20_000;
const RAISE_LIMIT = `ulimit -n ${OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; ` +
  `exec "$0" "$@"`;
const STOP_GRACE_MS = 5_000;
const BANNER_TIMEOUT_MS = 30_000;
const STDERR_KEPT = 4_000;
/** USER_HZ: the unit of CPU times in /proc/<pid>/stat on Linux. */
const CLOCK_TICKS_PER_S = 100;

/** Runs `deno <args>` with the open-files limit raised. */
export function spawnDeno(args: string[], stdin: "piped" | "null"): Deno.ChildProcess {
  return new Deno.Command("bash", {
    args: ["-c", RAISE_LIMIT, Deno.execPath(), ...args],
    env: { NO_COLOR: "1" },
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Sends SIGTERM, then SIGKILL if the process is still there after a grace period. */
export async function stopProcess(child: Deno.ChildProcess): Promise<void> {
  const signal = (name: Deno.Signal) => {
    try {
      child.kill(name);
    } catch {
      // Already exited.
    }
  };
  signal("SIGTERM");
  const timer = setTimeout(() => signal("SIGKILL"), STOP_GRACE_MS);
  await child.status;
  clearTimeout(timer);
}

/** A server under test (the chat server or the echo relay), listening on `port`. */
export interface Service extends AsyncDisposable {
  name: string;
  pid: number;
  port: number;
}

/**
 * Starts `deno run -A <denoFlags> <script> <args>` and waits for its start-up line ("...
 * listening on HOST:PORT ..."); the output is drained for as long as it runs.
 */
export async function startService(
  name: string,
  script: string,
  args: string[],
  denoFlags: string[] = [],
) {
  const child = spawnDeno(["run", "-A", ...denoFlags, script, ...args], "null");
  let stderr = "";
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr = (stderr + chunk).slice(-STDERR_KEPT);
    }
  })();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  ).getReader();
  const timer = setTimeout(() => child.kill("SIGKILL"), BANNER_TIMEOUT_MS);
  let port = 0;
  while (!port) {
    const { value, done } = await lines.read();
    if (done) break;
    port = Number(value.match(/listening on [^ ]+:(\d+)/)?.[1] ?? 0);
  }
  clearTimeout(timer);
  const stdoutDone = (async () => {
    while (!(await lines.read()).done);
  })();
  const service = track({ name, pid: child.pid, port }, async () => {
    await stopProcess(child);
    await Promise.all([stdoutDone, stderrDone]);
  });
  if (!port) {
    await service[Symbol.asyncDispose]();
    throw new Error(`Cannot start ${name}: ${stderr.trim() || "no start-up line"}`);
  }
  return service;
}

/** Resident memory of a process, in KiB (VmRSS). */
export async function rssKb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB/m);
  if (!match) throw new Error(`Cannot read VmRSS of process ${pid}`);
  return Number(match[1]);
}

/**
 * Samples the summed RSS of `pids` every `everyMs` until `stop`, which resolves with the highest
 * sum seen (in KiB), a last sample included.
 */
export function watchPeakRss(pids: number[], everyMs = 50): { stop(): Promise<number> } {
  let peak = 0;
  const sample = async () => {
    const total = (await Promise.all(pids.map(rssKb))).reduce((sum, kb) => sum + kb, 0);
    peak = Math.max(peak, total);
  };
  let sampling = sample();
  const timer = setInterval(() => {
    sampling = sampling.then(sample);
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await sampling.then(sample);
      return peak;
    },
  };
}

/** CPU time (user + system, all threads) a process has used, in milliseconds. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_S;
}
