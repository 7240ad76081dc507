// Holes a review found around logins and registrations, each closed here: concurrent guesses
// racing the throttle, a failing hasher telling unknown accounts from known ones, registrations
// unlimited per address, and logins queued behind a registration flood.

import assert from "node:assert/strict";
import { CancelledError } from "../lib/errors.ts";
import { HashSlots } from "../lib/hash_slots.ts";
import { MAX_CONCURRENT_DERIVATIONS, placeholderHash, verifyPassword } from "../lib/password.ts";
import { addressKey, MAX_ADDRESSES, RegistrationLimit } from "../lib/registration_limit.ts";
import { TestCluster } from "./support/harness.ts";

function hardeningTest(name: string, body: (cluster: TestCluster) => Promise<void>) {
  Deno.test(`login hardening: ${name}`, async () => {
    const cluster = new TestCluster();
    try {
      await body(cluster);
    } finally {
      await cluster.close();
    }
  });
}

hardeningTest("20 concurrent wrong guesses: only 5 are checked, the rest throttled", async (c) => {
  const id = await (await c.client()).register("alice", "right");
  const guessers = await Promise.all(Array.from({ length: 20 }, () => c.client()));
  const replies = await Promise.all(guessers.map((g, i) => g.login(id, `guess ${i}`)));
  const errnos = replies.map((reply) => reply.errno).sort();
  assert.deepEqual(errnos, [...Array(5).fill(1), ...Array(15).fill(8)]);
  assert.equal((await guessers[0].login(id, "right")).errno, 8, "locked for the minute");
});

hardeningTest("a hasher that fails cannot tell unknown accounts from known ones", async (c) => {
  const id = await (await c.client("node-a")).register("alice", "right");
  // A node whose hashing is broken (say, out of memory for a moment): verify still runs.
  c.passwords = {
    hash: () => Promise.reject(new Error("hashing is broken")),
    verify: verifyPassword,
    placeholder: placeholderHash({ N: 1024, r: 8, p: 1 }),
  };
  const client = await c.client("node-b");
  const unknown = await client.request({ msgid: 1, name: "nobody", password: "x" });
  const wrong = await client.request({ msgid: 1, id, password: "x" });
  assert.deepEqual([unknown.errno, unknown.errmsg], [1, "wrong id/name or password"]);
  assert.deepEqual([wrong.errno, wrong.errmsg], [unknown.errno, unknown.errmsg]);
});

hardeningTest("an unknown account costs a full derivation at the server's cost", async (c) => {
  const verified: string[] = [];
  const cheap = { N: 1024, r: 8, p: 1 };
  c.passwords = {
    hash: () => Promise.reject(new Error("not used")),
    verify: (password, stored, signal) => {
      verified.push(stored);
      return verifyPassword(password, stored, signal);
    },
    placeholder: placeholderHash(cheap),
  };
  const client = await c.client();
  assert.equal((await client.request({ msgid: 1, name: "nobody", password: "x" })).errno, 1);
  assert.deepEqual(verified, [placeholderHash(cheap)]);
  assert.equal(await verifyPassword("", placeholderHash(cheap)), false);
});

hardeningTest("REGISTER is limited per source address", async (c) => {
  c.registerLimit = 3;
  const client = await c.client();
  for (const name of ["a", "b", "c"]) assert.equal((await client.request(reg(name))).errno, 0);
  const refused = await client.request(reg("d"));
  assert.equal(refused.errno, 8);
  assert.match(String(refused.errmsg), /too many registrations from your address/);
  const elsewhere = await c.client();
  elsewhere.session.remoteHost = "198.51.100.7";
  assert.equal((await elsewhere.request(reg("e"))).errno, 0, "other addresses are unaffected");
  c.time = new Date(c.time.getTime() + 20 * 60_000); // 3 an hour: one more after 20 minutes
  assert.equal((await client.request(reg("d"))).errno, 0);
  assert.equal((await client.request(reg("f"))).errno, 8);
});

hardeningTest("a login never waits behind a flood of registrations", async (c) => {
  const id = await (await c.client()).register("alice", "right");
  const order: string[] = [];
  const flood = await Promise.all(Array.from({ length: 16 }, () => c.client()));
  const registering = flood.map((client, i) =>
    client.request(reg(`flood${i}`)).then(() => order.push("register"))
  );
  const login = (await c.client()).login(id, "right").then((reply) => {
    order.push("login");
    return reply;
  });
  assert.equal((await login).errno, 0);
  await Promise.all(registering);
  const before = order.indexOf("login");
  // Only the derivations already running when the login came (and those granted while its own
  // ran) may finish first; FIFO would put it after all 16.
  assert.ok(before <= 2 * MAX_CONCURRENT_DERIVATIONS, `login finished after ${before} of 16`);
});

Deno.test("hash slots: logins take freed slots before any queued registration", async () => {
  const slots = new HashSlots(1);
  const granted: string[] = [];
  const releases = new Map<string, () => void>();
  const want = (lane: "login" | "register", name: string) =>
    slots.acquire(lane).then((release) => {
      granted.push(name);
      releases.set(name, release);
    });
  const first = await slots.acquire("register");
  const waits = [want("register", "r1"), want("register", "r2"), want("login", "l1")];
  waits.push(want("login", "l2"));
  assert.equal(slots.waiting("register"), 2);
  assert.equal(slots.waiting("login"), 2);
  first();
  for (let i = 0; i < 4; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(granted.length, i + 1, "one slot: one at a time");
    releases.get(granted[i])!();
  }
  await Promise.all(waits);
  assert.deepEqual(granted, ["l1", "l2", "r1", "r2"]);
  assert.equal(slots.running, 0);
});

Deno.test("hash slots: a waiter whose connection closed leaves the queue", async () => {
  const slots = new HashSlots(1);
  const held = await slots.acquire("login");
  const closing = new AbortController();
  const abandoned = slots.acquire("login", closing.signal);
  const next = slots.acquire("register");
  closing.abort();
  await assert.rejects(abandoned, CancelledError);
  held();
  (await next)();
  assert.equal(slots.running, 0);
  await assert.rejects(slots.acquire("login", AbortSignal.abort()), CancelledError);
});

Deno.test("registration limit: per address (IPv6 by /64), refilling, with bounded memory", () => {
  let now = 0;
  const limit = new RegistrationLimit(2, () => now);
  assert.deepEqual([1, 2, 3].map(() => limit.take("2001:db8:1:2::10")), [true, true, false]);
  assert.equal(limit.take("2001:db8:1:2:ffff::1"), false, "same /64");
  assert.equal(limit.take("2001:db8:1:3::1"), true, "another /64");
  now += 30 * 60_000;
  assert.equal(limit.take("2001:db8:1:2::10"), true, "2 an hour: one after 30 minutes");
  assert.equal(addressKey("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(addressKey("2001:0db8:0:0001::1"), "2001:db8:0:1::/64");
  assert.equal(addressKey("::1"), "0:0:0:0::/64");
  for (let i = 0; i < MAX_ADDRESSES + 10; i++) {
    limit.take(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  }
  assert.ok(limit.size <= MAX_ADDRESSES);
  assert.equal(new RegistrationLimit(0).take("192.0.2.1"), true, "0: no limit");
  const one = new RegistrationLimit(1, () => now);
  for (const local of ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"]) {
    assert.deepEqual([one.take(local), one.take(local)], [true, true], `${local} is not limited`);
  }
});

function reg(name: string) {
  return { msgid: 4, name, password: "pw" };
}
