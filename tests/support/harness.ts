// In-process test doubles for the chat core: sessions that record what they are sent, a
// connection the core can serve, and a set of nodes built by the server's own factory
// (lib/core.ts) sharing one store and one cluster: an in-memory SQLite store and the in-process
// cluster by default, or any combination of tests/support/backends.ts. Cheap password hashing
// and a controllable clock. No sockets.

import { InProcessCluster } from "../../lib/cluster/memory.ts";
import type { Bus, Presence } from "../../lib/cluster/types.ts";
import { type ChatCore, createChatCore } from "../../lib/core.ts";
import type { ChatDeps, PasswordHasher } from "../../lib/handlers/context.ts";
import { silentLogger } from "../../lib/log.ts";
import type { ServerMetrics } from "../../lib/metrics.ts";
import { scryptHasher } from "../../lib/password.ts";
import { type Frame, MsgId } from "../../lib/protocol.ts";
import type { Redelivery } from "../../lib/redelivery.ts";
import type { Connection, Inbound, Session } from "../../lib/session.ts";
import type { Timers } from "../../lib/shared_deadline.ts";
import type { SharedFrame } from "../../lib/shared_frame.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import { type Backend, openTestBackends, type TestBackends } from "./backends.ts";
import type { Repositories } from "../../lib/store/types.ts";

const CHEAP_SCRYPT = { N: 1024, r: 8, p: 1 };

/** A session that keeps every frame it is sent. */
export class RecordingSession implements Session {
  static #next = 1;
  readonly connectionId = RecordingSession.#next++;
  user: { id: number; name: string } | null = null;
  receipts = false;
  tokenHash: string | null = null;
  /** The client's address (TEST-NET-1 unless a test says otherwise). */
  remoteHost = "192.0.2.1";
  readonly received: Frame[] = [];
  /** Whether the next requests are admitted (the rate limit is tested on its own). */
  admitting = true;
  /** Abort it to play a closed connection. */
  readonly closing = new AbortController();
  readonly signal = this.closing.signal;

  send(frame: Frame): void {
    this.received.push(structuredClone(frame));
  }

  sendShared(frame: SharedFrame): void {
    this.received.push(JSON.parse(frame.json));
  }

  admit(): boolean {
    return this.admitting;
  }

  /** What written() answers: replace it to play a failed or slow write. */
  writes: () => Promise<boolean> = () => Promise.resolve(true);
  /** Set it to play a connection behind on its writes. */
  unwrittenBytes = 0;

  written(): Promise<boolean> {
    return this.writes();
  }

  /** Removes and returns everything received so far. */
  take(): Frame[] {
    return this.received.splice(0);
  }
}

/**
 * A connection of no transport, for ChatCore.serve: the test feeds what the client "sent" and
 * reads what the core sent back, one frame at a time.
 */
export class RecordingConnection extends RecordingSession implements Connection {
  lastActivity = performance.now();
  closeReason: string | null = null;
  readonly remoteAddress = "test";
  readonly #inbound: Inbound[] = [];
  #wake: (() => void) | null = null;
  #sent: (() => void) | null = null;

  override send(frame: Frame): void {
    super.send(frame);
    this.#sent?.();
  }

  override sendShared(frame: SharedFrame): void {
    super.sendShared(frame);
    this.#sent?.();
  }

  get closed(): boolean {
    return this.signal.aborted;
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closeReason = reason ?? null;
    this.closing.abort();
    this.#wake?.();
  }

  /** Plays the client sending `inbound`. */
  feed(...inbound: Inbound[]): void {
    this.#inbound.push(...inbound);
    this.lastActivity = performance.now();
    this.#wake?.();
  }

  /** What the client sent, until the connection closes. */
  async *requests(): AsyncGenerator<Inbound> {
    while (!this.closed) {
      const next = this.#inbound.shift();
      if (next) {
        yield next;
        continue;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = null;
    }
  }

  /** The next frame the core sends (waiting for it), removed from `received`. */
  async next(): Promise<Frame> {
    while (this.received.length === 0) {
      await new Promise<void>((resolve) => this.#sent = resolve);
      this.#sent = null;
    }
    return this.received.shift()!;
  }
}

/** A client of one node: sends requests through the dispatcher and returns the response. */
export class TestClient {
  readonly session = new RecordingSession();
  #seq = 0;

  constructor(readonly core: ChatCore) {}

  get deps(): ChatDeps {
    return this.core.deps;
  }

  /** Sends a request; returns its response (pushes stay in `pushes()`). */
  async request(frame: Frame): Promise<Frame> {
    const seq = ++this.#seq;
    await this.core.handle(this.session, { ...frame, seq });
    const index = this.session.received.findIndex((f) => f.seq === seq);
    if (index < 0) throw new Error(`no response to ${JSON.stringify(frame)}`);
    const [response] = this.session.received.splice(index, 1);
    return response;
  }

  /**
   * Pushes received so far (frames without seq) except roster updates, removed from the session
   * with any stray response; roster updates stay for `updates()`.
   */
  pushes(): Frame[] {
    const received = this.session.received.splice(0);
    this.session.received.push(...received.filter(isRosterUpdate));
    return received.filter((f) => f.seq === undefined && !isRosterUpdate(f));
  }

  /** Roster updates (PRESENCE, ROSTER) received so far, removed from the session. */
  updates(): Frame[] {
    const received = this.session.received.splice(0);
    this.session.received.push(...received.filter((f) => !isRosterUpdate(f)));
    return received.filter(isRosterUpdate);
  }

  async register(name: string, password = "pw"): Promise<number> {
    const response = await this.request({ msgid: 4, name, password });
    if (response.errno !== 0) throw new Error(`register ${name}: ${JSON.stringify(response)}`);
    return response.id as number;
  }

  login(id: number, password = "pw", extra: Frame = {}): Promise<Frame> {
    return this.request({ msgid: 1, id, password, ...extra });
  }

  /** The connection drops. */
  disconnect(): Promise<void> {
    return this.core.end(this.session);
  }
}

/** What a test may put around a node's backends (to make them fail, say) or give it. */
export interface NodeWrapping {
  presence?: (inner: Presence) => Presence;
  bus?: (inner: Bus) => Bus;
  store?: (inner: Repositories) => Repositories;
  metrics?: ServerMetrics;
}

/**
 * Nodes sharing one in-memory store and one in-process cluster, each a chat core built by the
 * server's own factory (lib/core.ts), served without sockets.
 */
export class TestCluster {
  readonly store: Repositories;
  /** The in-process cluster of the default backends (a test kills a node with it). */
  readonly cluster = new InProcessCluster();
  readonly cores = new Map<string, ChatCore>();
  readonly #backends: TestBackends;
  time = new Date("2026-01-02T03:04:05.678Z");
  /** Password hashing of the nodes made from now on: cheap scrypt unless a test replaces it. */
  passwords: PasswordHasher = scryptHasher(CHEAP_SCRYPT);
  /** Registrations per address and hour of the nodes made from now on. */
  registerLimit = 1000;
  /** Most connections each node made from now on serves at once. */
  maxConnections: number | undefined = undefined;
  /** How long the nodes' direct writes may take before a session is late (lib/direct_writer.ts). */
  directWriteMs = 1000;
  /** How long a node waits for another node's report of a direct write (lib/direct_remote.ts). */
  directReportMs = 1000;
  /** The timers of those deadlines: the system's unless a test brings its own. */
  timers: Timers | undefined = undefined;

  /** Nodes on `backends`; by default an in-memory SQLite store and the in-process cluster. */
  constructor(pendingCap?: number, backends?: TestBackends) {
    this.#backends = backends ??
      inProcessBackends(openSqliteStore(":memory:", pendingCap), this.cluster);
    this.store = this.#backends.store;
  }

  /** Nodes on fresh backends of one combination of the matrix (tests/support/backends.ts). */
  static async open(backend: Backend, pendingCap?: number): Promise<TestCluster> {
    return new TestCluster(pendingCap, await openTestBackends(backend, pendingCap));
  }

  /** Each node's dependencies, by node id. */
  get nodes(): Map<string, ChatDeps> {
    return new Map([...this.cores].map(([nodeId, core]) => [nodeId, core.deps]));
  }

  /** Each node's recovery sweep, watching its bus and presence. */
  get redeliveries(): Map<string, Redelivery> {
    return new Map([...this.cores].map(([nodeId, core]) => [nodeId, core.redelivery]));
  }

  /**
   * The node `nodeId`, made on first use with the in-process presence and bus, the shared
   * store, and whatever `wrapping` puts around them.
   */
  async node(nodeId: string, wrapping: NodeWrapping = {}): Promise<ChatDeps> {
    return (await this.core(nodeId, wrapping)).deps;
  }

  /** The chat core of node `nodeId`, started on first use (see node()). */
  async core(nodeId: string, wrapping: NodeWrapping = {}): Promise<ChatCore> {
    const existing = this.cores.get(nodeId);
    if (existing) return existing;
    const { presence, bus } = await this.#backends.node(nodeId);
    const core = createChatCore({
      store: wrapping.store?.(this.store) ?? this.store,
      presence: wrapping.presence?.(presence) ?? presence,
      bus: wrapping.bus?.(bus) ?? bus,
      passwords: this.passwords,
      registerLimit: this.registerLimit,
      log: silentLogger,
      maxFrame: 1024 * 1024,
      now: () => this.time,
      idleTimeoutMs: 0,
      loginTimeoutMs: 0,
      maxConnections: this.maxConnections,
      directWriteMs: this.directWriteMs,
      directReportMs: this.directReportMs,
      timers: this.timers,
      metrics: wrapping.metrics,
    });
    this.cores.set(nodeId, core);
    await core.start();
    return core;
  }

  async client(nodeId = "node-a"): Promise<TestClient> {
    return new TestClient(await this.core(nodeId));
  }

  /** Stops every node's recovery sweep, then closes the backends (the nodes share them). */
  async close(): Promise<void> {
    for (const core of this.cores.values()) await core.redelivery.stop();
    await this.#backends.close();
  }
}

/** One store and the in-process cluster. */
function inProcessBackends(store: Repositories, cluster: InProcessCluster): TestBackends {
  return {
    store,
    node: (nodeId) => Promise.resolve({ presence: cluster.presence(nodeId), bus: cluster.bus() }),
    close: () => store.close(),
  };
}

/** Lets queued microtasks and timers (bus deliveries) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function isRosterUpdate(frame: Frame): boolean {
  return frame.seq === undefined &&
    (frame.msgid === MsgId.PRESENCE || frame.msgid === MsgId.ROSTER);
}

/** Waits (a bounded number of turns) until `condition` holds. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  for (let turn = 0; turn < 200; turn++) {
    if (await condition()) return;
    await settle();
  }
  throw new Error(`never happened: ${what}`);
}
