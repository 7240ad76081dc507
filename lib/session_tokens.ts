// Session tokens: what a client logs in with after its first login, so that it never has to keep
// or resend its password. A token is 256 random bits; the store keeps only its SHA-256, so a copy
// of the database logs nobody in. A token expires when unused for the TTL (sliding: each login
// with it starts the period again); logout revokes it, a password change revokes all of a user's.

import { createHash } from "node:crypto";
import type { TokenRepository } from "./store/types.ts";

/** Default time a token stays valid without being used: 30 days. */
export const DEFAULT_TOKEN_TTL_MS = 30 * 86_400_000;
/** Most tokens kept per user (one per device or client that logged in with the password). */
export const MAX_TOKENS_PER_USER = 32;
const TOKEN_BYTES = 32;

export interface SessionTokenOptions {
  store: TokenRepository;
  /** How long an unused token stays valid, ms. */
  ttlMs?: number;
  /** The clock (ms since the epoch). */
  now?: () => number;
  /** Random bytes (tests may make them predictable). */
  randomBytes?: (count: number) => Uint8Array;
}

/** A token as handed to the client, and the hash the store knows it by. */
export interface IssuedToken {
  token: string;
  hash: string;
}

export class SessionTokens {
  readonly #store: TokenRepository;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #randomBytes: (count: number) => Uint8Array;

  constructor(options: SessionTokenOptions) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs ?? DEFAULT_TOKEN_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#randomBytes = options.randomBytes ??
      ((count) => crypto.getRandomValues(new Uint8Array(count)));
  }

  /** A new token for the user, stored (as its hash) before it is returned. */
  async issue(userId: number): Promise<IssuedToken> {
    const token = toBase64Url(this.#randomBytes(TOKEN_BYTES));
    const hash = hashToken(token);
    const now = this.#now();
    await this.#store.add(userId, hash, now, now - this.#ttlMs, MAX_TOKENS_PER_USER);
    return { token, hash };
  }

  /** The token's hash when it is a live token of the user (now marked used), else null. */
  async redeem(userId: number, token: string): Promise<string | null> {
    const hash = hashToken(token);
    const now = this.#now();
    return await this.#store.use(userId, hash, now, now - this.#ttlMs) ? hash : null;
  }

  revoke(hash: string): Promise<void> {
    return this.#store.revoke(hash);
  }
}

/** The SHA-256 of a token, hex: a fast hash suffices for 256 random bits. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

function toBase64Url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}
