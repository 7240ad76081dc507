// The web client in a real headless Chromium against the real server (--http-port): two pages
// register, befriend and chat both ways with the keyboard; a page and a TCP user chat; errors
// appear beside what caused them; scrolling up reads history; a page reconnects by itself after
// the server restarts and shows what arrived meanwhile, once; a friend is removed and a group left
// with the two-step button, and both sides see it; the password is changed from the page. On
// failure a screenshot of each page goes to a temp dir.

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  button,
  chromiumInstalled,
  launchBrowser,
  screenshotOnFailure,
  type TestBrowser,
  WebUser,
} from "./support/browser.ts";
import { type ServerProcess, startServer } from "./support/server_process.ts";
import { freePort, serviceAvailable } from "./support/services.ts";
import { WireClient } from "./support/wire_client.ts";

const ready = await serviceAvailable("Chromium (/usr/bin/chromium)", chromiumInstalled);

interface Scene {
  server: ServerProcess;
  url: string;
  browser: TestBrowser;
  /** Opens a tab for a new person. */
  person(name: string): Promise<WebUser>;
  /** Stops the server; `start` starts it again with the same arguments. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

function browserTest(
  name: string,
  body: (scene: Scene) => Promise<void>,
  serverArgs: () => Promise<string[]> = () =>
    Promise.resolve(["--db", "sqlite::memory:", "--http-port", "0"]),
) {
  Deno.test({
    name: `web browser: ${name}`,
    ignore: !ready,
    async fn() {
      const args = await serverArgs();
      const server = await startServer(args);
      const browser = await launchBrowser();
      const pages: Page[] = [];
      const scene: Scene = {
        server,
        url: `http://127.0.0.1:${server.httpPort}/`,
        browser,
        async person(name) {
          const user = await WebUser.open(browser.browser, scene.url, name);
          pages.push(user.page);
          return user;
        },
        async stop() {
          assert.equal((await scene.server.stop()).code, 0, scene.server.stderr());
        },
        async start() {
          scene.server = await startServer(args);
        },
      };
      try {
        await screenshotOnFailure(() => pages, name, () => body(scene));
      } finally {
        await browser.close();
        await scene.server.stop();
      }
    },
  });
}

browserTest("two people register, befriend and chat both ways with the keyboard", async (s) => {
  const ann = await s.person("ann");
  const bob = await s.person("bob");
  await ann.register();
  const bobId = await bob.register();
  await ann.addFriend(bobId);
  // Named "bob" when the server's ADD_FRIEND reply carries the friend, "user #id" before.
  await ann.openUser(bobId);
  await ann.say("hello bob, from a browser");
  await bob.waitForText("#friends", /1 unread/);
  await bob.page.reload();
  // A reloaded tab logs in again with its session token, or shows the form if it has none.
  if (await bob.settled() === "login") await bob.logIn();
  await bob.open("ann");
  await bob.waitForMessage("hello bob, from a browser");
  await bob.say("hi ann <b>not bold</b>");
  await ann.waitForMessage("hi ann <b>not bold</b>");
  assert.deepEqual(await ann.messages(), ["hello bob, from a browser", "hi ann <b>not bold</b>"]);
  assert.equal(await ann.page.$("#messages b"), null, "text, never markup");
  assert.match(await ann.text("#friends"), /^bob /, "the name learned from bob's message");
});

browserTest(
  "a page and a terminal (TCP) user chat; server errors show beside their cause",
  async (s) => {
    const term = await WireClient.connect(s.server.port);
    const termId = await term.register("terry");
    assert.equal((await term.login(termId)).errno, 0);
    const cat = await s.person("cat");
    await cat.logIn();
    await cat.waitForText("#login-error", /wrong id\/name or password/);
    const catId = await cat.register();
    await cat.addFriend(999);
    await cat.waitForText("#add-friend-error", /no user with id 999/);
    // Anyone may message anyone: the sender appears in the list with the message.
    assert.equal((await term.request({ msgid: 6, toid: catId, msg: "hi cat" })).errno, 0);
    await cat.waitForText("#friends", /terry not a friend 1 unread/);
    await cat.addFriend(termId);
    await cat.open("terry");
    await cat.waitForMessage("hi cat");
    await cat.say("hi terry");
    await term.until(() => term.pushes.some((push) => push.msg === "hi terry"), "terry's push");
    assert.equal(term.pushes.at(-1)?.name, "cat");
    // The field stops at 4,096 characters; pasted past that by a script, the server says no.
    await cat.page.$eval("#message", (field) => {
      const input = field as unknown as { value: string; removeAttribute(name: string): void };
      input.removeAttribute("maxlength");
      input.value = "y".repeat(4097);
    });
    await cat.click("Send");
    await cat.waitForText("#send-error", /longer than 4096 characters/);
    term.close();
  },
);

browserTest(
  "a form left past the login deadline connects again on the next try, with no alarm",
  async (s) => {
    const kim = await s.person("kim");
    await kim.logIn();
    await kim.waitForText("#login-error", /wrong id\/name or password/);
    // The server closes the connection, not logged in, after --login-timeout (1 s here).
    await kim.page.waitForFunction('document.body.dataset.status === "offline"');
    assert.equal(await kim.text("#status"), "", "nothing alarming while nobody is logged in");
    assert.ok(await kim.register() > 0);
    assert.equal(await kim.text("#status"), "");
  },
  () => Promise.resolve(["--db", "sqlite::memory:", "--http-port", "0", "--login-timeout", "1"]),
);

browserTest("scrolling up reads older messages, a page at a time, to the start", async (s) => {
  const term = await WireClient.connect(s.server.port);
  const termId = await term.register("tom");
  await term.login(termId);
  const eve = await s.person("eve");
  const eveId = await eve.register();
  assert.equal((await term.request({ msgid: 7, friendid: eveId })).errno, 0);
  for (let n = 1; n <= 45; n++) {
    assert.equal((await term.request({ msgid: 6, toid: eveId, msg: `line ${n}` })).errno, 0);
  }
  await eve.waitForText("#friends", /45 unread/);
  // A reload starts from nothing: the conversation comes from HISTORY (30 a page).
  await eve.page.reload();
  if (await eve.settled() === "login") await eve.logIn();
  await eve.open("tom");
  await eve.waitForMessage("line 45");
  // A page of history, and what the reload cut off before its receipt went (it comes again).
  const first = (await eve.messages()).length;
  assert.ok(first >= 30 && first < 45, `${first} messages before scrolling up`);
  await eve.page.$eval(
    "#messages",
    (list) => (list as unknown as { scrollTop: number }).scrollTop = 0,
  );
  await eve.waitForMessage("line 1");
  await eve.waitForText("#messages", /start of the conversation/);
  const shown = await eve.messages();
  assert.deepEqual(shown, Array.from({ length: 45 }, (_, index) => `line ${index + 1}`));
  term.close();
});

browserTest(
  "a page reconnects by itself after a restart and shows what came meanwhile, once",
  async (s) => {
    const dan = await s.person("dan");
    const danId = await dan.register();
    const term = await WireClient.connect(s.server.port);
    const termId = await term.register("tess");
    await term.login(termId);
    assert.equal((await term.request({ msgid: 7, friendid: danId })).errno, 0);
    assert.equal((await term.request({ msgid: 6, toid: danId, msg: "before" })).errno, 0);
    await dan.waitForText("#friends", /1 unread/);
    await dan.open("tess");
    await dan.waitForMessage("before");
    term.close();
    await s.stop();
    await dan.waitForText("#status", /reconnecting/);
    // While the page is away, a message waits for it.
    await s.start();
    const again = await WireClient.connect(s.server.port);
    assert.equal((await again.login(termId)).errno, 0);
    assert.equal((await again.request({ msgid: 6, toid: danId, msg: "meanwhile" })).errno, 0);
    await dan.waitForMessage("meanwhile");
    await dan.waitForText("#status", /^$/);
    assert.deepEqual(await dan.messages(), ["before", "meanwhile"]);
    await dan.say("back");
    await again.until(() => again.pushes.some((push) => push.msg === "back"), "tess's push");
    again.close();
  },
  // A SQLite file that outlives the first server, and the same ports for the second.
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-web-" });
    return [
      "--db",
      `sqlite:${dir}/chat.db`,
      "--port",
      String(freePort()),
      "--http-port",
      String(freePort()),
    ];
  },
);

browserTest("a friend removed with the two-step button is gone from both pages", async (s) => {
  const ann = await s.person("ann");
  const bob = await s.person("bob");
  await ann.register();
  const bobId = await bob.register();
  await ann.addFriend(bobId);
  await bob.waitForText("#friends", /^ann /);
  await ann.openUser(bobId);
  await ann.say("hi bob");
  await bob.open("ann");
  await bob.waitForMessage("hi bob");
  await ann.click("Remove friend");
  await ann.click("Really remove bob?");
  await ann.waitForText("#conversation-title", /^Pick a friend or a group$/);
  assert.equal(await ann.text("#friends"), "", "neither a friend nor an open conversation");
  assert.equal(await ann.page.$(button("Remove friend")), null);
  // Bob's page learns it by the ROSTER push: his open conversation with ann closes.
  await bob.waitForText("#status", /^ann removed you as a friend\.$/);
  assert.equal(await bob.text("#friends"), "");
  assert.equal(await bob.text("#conversation-title"), "Pick a friend or a group");
});

browserTest(
  "a member leaves a group: gone from their page, and the others see them gone",
  async (s) => {
    const cal = await s.person("cal");
    const dee = await s.person("dee");
    await cal.register();
    await dee.register();
    const crew = await cal.createGroup("crew");
    await cal.open("crew");
    await dee.joinGroup(crew);
    await cal.waitForText("#members", /dee/);
    await dee.open("crew");
    await dee.click("Leave group");
    await dee.click("Really leave crew?");
    await dee.waitForText("#conversation-title", /^Pick a friend or a group$/);
    assert.equal(await dee.text("#groups"), "");
    await cal.waitForText("#groups", /^crew 1 member$/);
    assert.equal(await cal.text("#members"), "Members: cal (creator, online)");
  },
);

browserTest(
  "the password is changed from the page: a wrong current one is refused, then only the new one logs in",
  async (s) => {
    const fay = await s.person("fay");
    await fay.register("old secret");
    await fay.changePassword("not it", "new secret");
    await fay.waitForText("#password-error", /^The current password is wrong\.$/);
    await fay.changePassword("old secret", "new secret", "new secret typo");
    await fay.waitForText("#password-error", /^The new passwords differ\.$/);
    await fay.changePassword("old secret", "new secret");
    await fay.waitForText("#status", /^Password changed/);
    assert.equal(await fay.page.$("#account[open]"), null, "the form closes");
    // The server revoked the old token; the page kept the fresh one, so a reload logs in with it.
    await fay.page.reload();
    assert.equal(await fay.settled(), "chat");
    await fay.click("Log out");
    await fay.logIn("old secret");
    await fay.waitForText("#login-error", /wrong id\/name or password/);
    await fay.logIn("new secret");
    await fay.page.waitForSelector("#chat-view:not([hidden])");
    assert.match(await fay.text("#me"), /^fay /);
  },
);
