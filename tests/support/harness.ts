// In-process test doubles for the chat core: sessions that record what they are sent, and a
// set of nodes sharing one store and an in-process cluster, with cheap password hashing and a
// controllable clock. No sockets.

import { decodeFrames } from "./frames.ts";
import { InProcessCluster } from "../../lib/cluster/memory.ts";
import type { Bus, Presence } from "../../lib/cluster/types.ts";
import { Delivery } from "../../lib/delivery.ts";
import { dispatch } from "../../lib/dispatcher.ts";
import { endSession } from "../../lib/handlers/account.ts";
import type { ChatDeps } from "../../lib/handlers/context.ts";
import { silentLogger } from "../../lib/log.ts";
import { LoginThrottle } from "../../lib/rate_limit.ts";
import { hashPassword, verifyPassword } from "../../lib/password.ts";
import type { Frame } from "../../lib/protocol.ts";
import { Redelivery } from "../../lib/redelivery.ts";
import { type Session, SessionRegistry } from "../../lib/session.ts";
import { openSqliteStore } from "../../lib/store/sqlite.ts";
import type { Repositories } from "../../lib/store/types.ts";

const CHEAP_SCRYPT = { N: 1024, r: 8, p: 1 };

/** A session that keeps every frame it is sent. */
export class RecordingSession implements Session {
  static #next = 1;
  readonly connectionId = RecordingSession.#next++;
  user: { id: number; name: string } | null = null;
  receipts = false;
  readonly received: Frame[] = [];
  /** Whether the next requests are admitted (the rate limit is tested on its own). */
  admitting = true;
  /** Abort it to play a closed connection. */
  readonly closing = new AbortController();
  readonly signal = this.closing.signal;

  send(frame: Frame): void {
    this.received.push(structuredClone(frame));
  }

  sendEncoded(bytes: Uint8Array): void {
    this.received.push(...decodeFrames(bytes));
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

/** A client of one node: sends requests through the dispatcher and returns the response. */
export class TestClient {
  readonly session = new RecordingSession();
  #seq = 0;

  constructor(readonly deps: ChatDeps) {}

  /** Sends a request; returns its response (pushes stay in `pushes()`). */
  async request(frame: Frame): Promise<Frame> {
    const seq = ++this.#seq;
    await dispatch(this.session, { ...frame, seq }, this.deps);
    const index = this.session.received.findIndex((f) => f.seq === seq);
    if (index < 0) throw new Error(`no response to ${JSON.stringify(frame)}`);
    const [response] = this.session.received.splice(index, 1);
    return response;
  }

  /** Pushes received so far (frames without seq), removed from the session. */
  pushes(): Frame[] {
    const pushes = this.session.received.filter((f) => f.seq === undefined);
    this.session.received.splice(0);
    return pushes;
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
    return endSession(this.session, this.deps);
  }
}

/** Nodes sharing one in-memory store and one in-process cluster. */
export class TestCluster {
  readonly store: Repositories;
  readonly cluster = new InProcessCluster();
  readonly nodes = new Map<string, ChatDeps>();
  /** Each node's recovery sweep, watching its bus and presence. */
  readonly redeliveries = new Map<string, Redelivery>();
  time = new Date("2026-01-02T03:04:05.678Z");
  /** How long the nodes' direct pushes may take to be written (lib/delivery.ts). */
  directWriteMs = 1000;

  constructor(pendingCap?: number) {
    this.store = openSqliteStore(":memory:", pendingCap);
  }

  /**
   * The node `nodeId`, made on first use with the in-process presence and bus or the wrappers
   * `wrap` puts around them (to make them fail, say).
   */
  async node(
    nodeId: string,
    wrap: { presence?: (inner: Presence) => Presence; bus?: (inner: Bus) => Bus } = {},
  ): Promise<ChatDeps> {
    const existing = this.nodes.get(nodeId);
    if (existing) return existing;
    const innerPresence = this.cluster.presence(nodeId);
    const presence = wrap.presence?.(innerPresence) ?? innerPresence;
    const innerBus = this.cluster.bus();
    const bus = wrap.bus?.(innerBus) ?? innerBus;
    const sessions = new SessionRegistry();
    const delivery = new Delivery({
      sessions,
      presence,
      bus,
      messages: this.store.messages,
      log: silentLogger,
      directWriteMs: this.directWriteMs,
    });
    const deps: ChatDeps = {
      store: this.store,
      presence,
      delivery,
      sessions,
      passwords: {
        hash: (password, signal) => hashPassword(password, CHEAP_SCRYPT, signal),
        verify: verifyPassword,
      },
      throttle: new LoginThrottle({ now: () => this.time.getTime() }),
      now: () => this.time,
      log: silentLogger,
    };
    await bus.subscribe(nodeId, (envelope) => void delivery.receive(envelope));
    const redelivery = new Redelivery({
      sessions,
      delivery,
      presence,
      messages: this.store.messages,
      log: silentLogger,
    });
    redelivery.watch(bus, presence);
    this.redeliveries.set(nodeId, redelivery);
    this.nodes.set(nodeId, deps);
    return deps;
  }

  async client(nodeId = "node-a"): Promise<TestClient> {
    return new TestClient(await this.node(nodeId));
  }

  async close(): Promise<void> {
    for (const redelivery of this.redeliveries.values()) await redelivery.stop();
    await this.store.close();
  }
}

/** Lets queued microtasks and timers (bus deliveries) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
