// Password hashing with salted scrypt (node:crypto, run on the thread pool so the event loop
// never blocks). Stored form: "scrypt$N$r$p$<salt base64>$<hash base64>".

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { PasswordHasher } from "./handlers/context.ts";
import { type HashLane, HashSlots } from "./hash_slots.ts";

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** Default cost: N=2^14, r=8, p=1 (16 MiB, tens of milliseconds per hash). */
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 16384, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;

/**
 * Most derivations running at once. Each holds 128·N·r bytes (16 MiB at the default cost) and a
 * core; without a bound, a flood of logins over many connections takes hundreds of MiB at once.
 * One core is left to the event loop, so a login storm never starves the chat: on 2 cores,
 * one derivation at a time; never more than 4. A derivation still waiting when its `signal`
 * aborts (its connection closed) is skipped, so a flood of logins from connections that went
 * away does not delay the logins of those still here; and logins go before registrations
 * (lib/hash_slots.ts).
 */
export const MAX_CONCURRENT_DERIVATIONS = Math.min(
  4,
  Math.max(1, navigator.hardwareConcurrency - 1),
);
/** The process's derivation slots: one pool for the one thread pool that runs them. */
export const DERIVATION_SLOTS = new HashSlots(MAX_CONCURRENT_DERIVATIONS);

async function derive(
  password: string,
  salt: Uint8Array,
  cost: ScryptCost,
  signal: AbortSignal | undefined,
  lane: HashLane,
): Promise<Buffer> {
  const release = await DERIVATION_SLOTS.acquire(lane, signal);
  try {
    return await deriveNow(password, salt, cost);
  } finally {
    release();
  }
}

function deriveNow(password: string, salt: Uint8Array, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      KEY_BYTES,
      { ...cost, maxmem: 256 * cost.N * cost.r },
      (error, key) => error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password with a fresh random salt, in `lane` (default "login"); CancelledError if
 * `signal` aborts first.
 */
export async function hashPassword(
  password: string,
  cost: ScryptCost = DEFAULT_SCRYPT_COST,
  signal?: AbortSignal,
  lane: HashLane = "login",
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, cost, signal, lane);
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString("base64")}$${
    key.toString("base64")
  }`;
}

/**
 * True when `password` matches `stored`; false for a wrong password or an unknown format;
 * CancelledError if `signal` aborts before the derivation starts.
 */
export async function verifyPassword(
  password: string,
  stored: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isSafeInteger)) return false;
  const salt = Buffer.from(parts[4], "base64");
  const expected = Buffer.from(parts[5], "base64");
  const actual = await derive(password, salt, { N, r, p }, signal, "login");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A well-formed hash at `cost` that no password matches (its key is all zeros, which scrypt does
 * not produce): verified in place of an unknown user's, so that logging in to an account that
 * does not exist costs the same and fails the same way as a wrong password.
 */
export function placeholderHash(cost: ScryptCost): string {
  const zeros = (count: number) => Buffer.alloc(count).toString("base64");
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${zeros(SALT_BYTES)}$${zeros(KEY_BYTES)}`;
}

/** The server's hasher: scrypt at `cost` in the process's derivation slots. */
export function scryptHasher(cost: ScryptCost = DEFAULT_SCRYPT_COST): PasswordHasher {
  return {
    hash: (password, lane, signal) => hashPassword(password, cost, signal, lane),
    verify: verifyPassword,
    placeholder: placeholderHash(cost),
  };
}
