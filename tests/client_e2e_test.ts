// The real client against the real server: client processes driven through piped stdin, the way
// a script (or a person, line by line) uses them.

import assert from "node:assert/strict";
import { TextLineStream } from "./support/lines.ts";
import { type ServerProcess, startServer } from "./support/server_process.ts";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;

interface ClientRun {
  /** Lines printed so far. */
  lines: string[];
  /** Resolves when a printed line matches. */
  waitFor(pattern: RegExp): Promise<void>;
  /** Exit code, stdout and stderr once stdin is done. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/** Runs the client with `script` piped to it (written all at once, then EOF). */
function runClient(port: number, script: string[], options: string[] = []): ClientRun {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CLIENT, ...options, "127.0.0.1", String(port)],
    env: { NO_COLOR: "1", TZ: "UTC" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const watchers: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const writer = child.stdin.getWriter();
  void writer.write(new TextEncoder().encode(script.join("\n") + "\n")).then(() => writer.close());
  const stdout = (async () => {
    const stream = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of stream) {
      lines.push(line);
      for (const watcher of watchers.filter((w) => w.pattern.test(line))) watcher.resolve();
    }
  })();
  const stderr = new Response(child.stderr).text();
  const done = Promise.all([child.status, stdout, stderr]).then(([status, , err]) => ({
    code: status.code,
    stdout: lines.join("\n"),
    stderr: err,
  }));
  return {
    lines,
    waitFor(pattern) {
      if (lines.some((line) => pattern.test(line))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        watchers.push({ pattern, resolve });
        done.then(() => reject(new Error(`client exited before printing ${pattern}`)));
      });
    },
    done,
  };
}

async function withServer(body: (server: ServerProcess) => Promise<void>) {
  const server = await startServer(["--db", "sqlite::memory:"]);
  try {
    await body(server);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
}

Deno.test("client e2e: two people register, befriend and chat both ways; offline messages once", async () => {
  await withServer(async ({ port }) => {
    const signup = await runClient(port, ["2", "alice", "pw-a", "2", "bob", "pw-b"]).done;
    assert.equal(signup.code, 0, signup.stderr);
    assert.deepEqual(signup.stdout.split("\n"), [
      "registered, your id is 1",
      "registered, your id is 2",
    ]);

    const bob = runClient(port, ["1", "bob", "pw-b", "sleep:4000", "chat:1:hi alice: welcome"]);
    await bob.waitFor(/^logged in as bob\(2\)$/);
    const alice = runClient(port, [
      "1",
      "1",
      "pw-a",
      "addfriend:2",
      "chat:2:hi bob",
      "sleep:6000",
    ]);
    const [bobRun, aliceRun] = await Promise.all([bob.done, alice.done]);
    assert.equal(bobRun.code, 0, bobRun.stderr);
    assert.equal(aliceRun.code, 0, aliceRun.stderr);
    assert.match(bobRun.stdout, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] alice\(1\): hi bob$/m);
    assert.match(aliceRun.stdout, /^friend 2 added$/m);
    assert.match(aliceRun.stdout, /\] bob\(2\): hi alice: welcome$/m);
    assert.match(aliceRun.stdout, /^logged out$/m);

    // Bob is offline now: what alice sends waits for him, and comes exactly once.
    const note = await runClient(port, ["1", "alice", "pw-a", "chat:2:while you were out"]).done;
    assert.match(note.stdout, /^sent$/m);
    const first = await runClient(port, ["1", "bob", "pw-b"]).done;
    assert.match(first.stdout, /^offline messages \(1\):$/m);
    assert.match(first.stdout, /alice\(1\): while you were out$/m);
    assert.match(first.stdout, /^ {2}alice\(1\) offline$/m);
    const second = await runClient(port, ["1", "bob", "pw-b"]).done;
    assert.doesNotMatch(second.stdout, /while you were out/);
  });
});

Deno.test("client e2e: groups with an offline member, duplicate login, logout and back", async () => {
  await withServer(async ({ port }) => {
    await runClient(port, ["2", "ann", "pw", "2", "ben", "pw", "2", "cat", "pw"]).done;
    const setup = await runClient(port, [
      "1",
      "ann",
      "pw",
      "creategroup:book club:we read: slowly",
      "loginout",
      "1",
      "cat",
      "pw",
      "addgroup:1",
    ]).done;
    assert.match(setup.stdout, /^group 1 created$/m);
    assert.match(setup.stdout, /^joined group 1$/m);

    const ben = runClient(port, ["1", "ben", "pw", "addgroup:1", "sleep:4000"]);
    await ben.waitFor(/^joined group 1$/);
    const ann = runClient(port, ["1", "ann", "pw", "groupchat:1:chapter 3: tonight", "sleep:500"]);
    const intruder = runClient(port, ["1", "ben", "pw", "sleep:200"]);
    const [benRun, annRun, intruderRun] = await Promise.all([ben.done, ann.done, intruder.done]);
    assert.match(annRun.stdout, /^sent$/m);
    assert.match(benRun.stdout, /\] group 1 \| ann\(1\): chapter 3: tonight$/m);
    assert.match(intruderRun.stdout, /errno 2/);

    const cat = await runClient(port, ["1", "cat", "pw", "loginout", "1", "cat", "pw"]).done;
    assert.equal(cat.code, 0, cat.stderr);
    assert.match(cat.stdout, /group 1 \| ann\(1\): chapter 3: tonight$/m);
    assert.equal(cat.stdout.match(/chapter 3/g)?.length, 1, "delivered once");
    assert.equal(cat.stdout.match(/^logged in as cat\(3\)$/gm)?.length, 2);
    assert.match(cat.stdout, /ann\(1\) creator offline/);
  });
});

Deno.test("client e2e: a server that goes away is one line and exit 1", async () => {
  const server = await startServer(["--db", "sqlite::memory:"]);
  const client = runClient(server.port, ["2", "dan", "pw", "1", "dan", "pw", "sleep:10000"], [
    "--reconnect-timeout",
    "0",
  ]);
  await client.waitFor(/^logged in as dan/);
  await server.stop("SIGKILL");
  const run = await client.done;
  assert.equal(run.code, 1);
  assert.equal(run.stderr, "chatclient: connection to server lost\n");
});

Deno.test("client e2e: quit at the command prompt logs out and leaves, ignoring what follows", async () => {
  await withServer(async ({ port }) => {
    await runClient(port, ["2", "dan", "pw", "2", "eve", "pw"]).done;
    const dan = await runClient(port, [
      "1",
      "dan",
      "pw",
      "chat:2:before quit",
      "quit",
      "chat:2:never sent",
    ]).done;
    assert.equal(dan.code, 0, dan.stderr);
    assert.match(dan.stdout, /^sent\nlogged out$/m);
    assert.equal(dan.stdout.match(/^sent$/gm)?.length, 1);
    const eve = await runClient(port, ["1", "eve", "pw", "history:1"]).done;
    assert.equal(eve.code, 0, eve.stderr);
    assert.match(eve.stdout, /^history with 1 \(1\):$/m);
    assert.match(eve.stdout, /dan\(1\): before quit$/m);
    assert.doesNotMatch(eve.stdout, /never sent/);
  });
});

Deno.test("client e2e: passwd changes the password; the old one and mistakes are refused", async () => {
  await withServer(async ({ port }) => {
    const signup = await runClient(port, ["2", "carol", "old-pw"]).done;
    assert.equal(signup.code, 0, signup.stderr);
    const change = await runClient(port, [
      "1",
      "carol",
      "old-pw",
      "passwd",
      "wrong",
      "new-pw",
      "new-pw",
      "passwd",
      "old-pw",
      "new-pw",
      "typo",
      "passwd",
      "old-pw",
      "new-pw",
      "new-pw",
    ]).done;
    assert.equal(change.code, 0, change.stderr);
    assert.match(change.stdout, /^error: wrong password \(errno 1/m);
    assert.match(change.stdout, /^error: the new passwords differ; nothing was changed$/m);
    assert.match(change.stdout, /^password changed; other devices must log in again/m);
    assert.ok(!change.stdout.includes("new-pw") && !change.stdout.includes("old-pw"), "no echo");
    const old = await runClient(port, ["1", "carol", "old-pw"]).done;
    assert.match(old.stdout, /wrong id\/name or password/);
    const fresh = await runClient(port, ["1", "carol", "new-pw"]).done;
    assert.match(fresh.stdout, /^logged in as carol\(1\)$/m);
  });
});

Deno.test("client e2e: roster updates print as they arrive and show follows them", async () => {
  await withServer(async ({ port }) => {
    await runClient(port, ["2", "alice", "pw-a", "2", "bob", "pw-b"]).done;
    const bob = runClient(port, [
      "1",
      "bob",
      "pw-b",
      "sleep:1500",
      "addgroup:1",
      "sleep:2500",
      "show",
      "removefriend:1",
      "leavegroup:1",
      "show",
    ]);
    await bob.waitFor(/^logged in as bob\(2\)$/);
    const alice = runClient(port, [
      "1",
      "alice",
      "pw-a",
      "addfriend:2",
      "creategroup:devs:we code",
      "sleep:2500",
      "leavegroup:1",
    ]);
    const [bobRun, aliceRun] = await Promise.all([bob.done, alice.done]);
    assert.equal(bobRun.code, 0, bobRun.stderr);
    assert.equal(aliceRun.code, 0, aliceRun.stderr);
    const at = String.raw`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] `;
    assert.match(bobRun.stdout, new RegExp(`${at}alice\\(1\\) added you as a friend$`, "m"));
    assert.match(aliceRun.stdout, new RegExp(`${at}bob\\(2\\) joined group 1 \\(devs\\)$`, "m"));
    assert.match(
      bobRun.stdout,
      new RegExp(`${at}alice\\(1\\) left group 1 \\(devs\\); you are now its creator$`, "m"),
    );
    assert.match(bobRun.stdout, new RegExp(`${at}alice\\(1\\) is offline$`, "m"));
    // show, after all of that: alice offline, bob the creator of devs, alone in it.
    const shown = bobRun.stdout.split("\n");
    const firstShow = shown.lastIndexOf("friends (1):");
    assert.deepEqual(shown.slice(firstShow, firstShow + 5), [
      "friends (1):",
      "  alice(1) offline",
      "groups (1):",
      "  group 1 devs: we code",
      "    bob(2) creator online",
    ]);
    assert.match(bobRun.stdout, /^friend 1 removed$/m);
    assert.match(bobRun.stdout, /^left group 1$/m);
    assert.match(bobRun.stdout, /^friends: none\ngroups: none$/m);
  });
});
