// A real headless Chromium for the web client's tests, driven by puppeteer-core: the installed
// browser (/usr/bin/chromium, or $CHROMIUM), a fresh profile each launch, no network of its own.
// Pages are worked as a person would: controls found by their accessible names, keys typed.

import puppeteer, { type Browser, type ElementHandle, type Page } from "puppeteer-core";

/**
 * The little of the DOM that the functions run inside the page use: this file is checked with
 * Deno's types, not the DOM library's (which would change WebSocket's type for every test).
 */
interface PageNode {
  readonly id: string;
  readonly textContent: string | null;
  querySelector(selector: string): PageNode | null;
}
/** A side list's entry, whose key says the conversation ("u:<id>" or "g:<id>"). */
interface PageEntry {
  readonly dataset: { key: string };
}
declare const document: {
  querySelector(selector: string): PageNode | null;
  querySelectorAll(selector: string): Iterable<PageNode>;
};

export const CHROMIUM = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** True when the browser binary is installed. */
export async function chromiumInstalled(): Promise<boolean> {
  try {
    return (await Deno.stat(CHROMIUM)).isFile;
  } catch {
    return false;
  }
}

/** A launched browser and its throw-away profile. */
export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await Deno.makeTempDir({ prefix: "chat-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** A textbox by its label. */
export const textbox = (name: string) => `::-p-aria([name="${name}"][role="textbox"])`;
/** A button by its text. */
export const button = (name: string) => `::-p-aria([name="${name}"][role="button"])`;

/** One person's tab with the web client. */
export class WebUser {
  constructor(readonly page: Page, readonly name: string) {}

  static async open(browser: Browser, url: string, name: string): Promise<WebUser> {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(url);
    return new WebUser(page, name);
  }

  /** Types into the field labelled `label`, replacing what it held. */
  async fill(label: string, text: string): Promise<void> {
    await this.page.bringToFront();
    const field = await this.page.waitForSelector(textbox(label));
    await field!.focus();
    await this.page.keyboard.down("Control");
    await this.page.keyboard.press("KeyA");
    await this.page.keyboard.up("Control");
    await this.page.keyboard.press("Backspace");
    await field!.type(text);
  }

  async click(name: string): Promise<void> {
    await this.#clickFound(() => this.page.waitForSelector(button(name)));
  }

  /** Registers with the page's form (then it is logged in); returns the id it shows. */
  async register(password = "pw"): Promise<number> {
    await this.fill("Username", this.name);
    await this.fill("Password", password);
    await this.click("Register");
    const me = await this.page.waitForSelector("#me:not(:empty)");
    const text = await me!.evaluate((element) => element.textContent ?? "");
    const id = Number(text.match(/id (\d+)/)?.[1]);
    if (!id) throw new Error(`no id shown after registering ${this.name}: '${text}'`);
    return id;
  }

  /** Waits until the page shows the login form or, logged in, the chat. */
  async settled(): Promise<"login" | "chat"> {
    const shown = await this.page.waitForSelector(
      "#login-view:not([hidden]), #chat-view:not([hidden])",
    );
    return await shown!.evaluate((view) => view.id) === "login-view" ? "login" : "chat";
  }

  /** Logs in with the form, pressing Enter in the password field. */
  async logIn(password = "pw"): Promise<void> {
    await this.fill("Username", this.name);
    await this.fill("Password", password);
    await this.page.keyboard.press("Enter");
  }

  /** Adds a friend by id with the side form. */
  async addFriend(id: number): Promise<void> {
    await this.fill("Add friend by id", String(id));
    await this.page.keyboard.press("Enter");
  }

  /** Creates a group with the side form; returns its id (its entry's key in the list). */
  async createGroup(name: string): Promise<number> {
    await this.fill("New group name", name);
    await this.page.keyboard.press("Enter");
    const entry = await this.page.waitForFunction(
      (wanted) =>
        [...document.querySelectorAll("#groups button.entry")].find((entry) =>
          entry.querySelector(".name")?.textContent === wanted
        ),
      { polling: 100 },
      name,
    ) as unknown as ElementHandle;
    const key = await entry.evaluate((node) => (node as unknown as PageEntry).dataset.key);
    return Number(key.slice(2));
  }

  /** Joins a group by id with the side form. */
  async joinGroup(id: number): Promise<void> {
    await this.fill("Join group by id", String(id));
    await this.page.keyboard.press("Enter");
  }

  /**
   * Fills the "Change password" form under the user's name (opening it if it is closed) and
   * saves; `again` is what goes in "New password again".
   */
  async changePassword(current: string, next: string, again = next): Promise<void> {
    await this.page.bringToFront();
    if (await this.page.$("#account[open]") === null) await this.page.click("#account > summary");
    await this.fill("Current password", current);
    await this.fill("New password", next);
    await this.fill("New password again", again);
    await this.click("Save password");
  }

  /** Opens the conversation with a friend or group by its name in the side list. */
  async open(name: string): Promise<void> {
    await this.#clickFound(async () =>
      (await this.page.waitForFunction(
        (wanted) =>
          [...document.querySelectorAll("button.entry")].find((entry) =>
            entry.querySelector(".name")?.textContent === wanted
          ),
        { polling: 100 },
        name,
      )) as unknown as ElementHandle
    );
  }

  /** Opens the conversation with a user by id (whatever name the list shows for them). */
  async openUser(id: number): Promise<void> {
    await this.#clickFound(() => this.page.waitForSelector(`button.entry[data-key="u:${id}"]`));
  }

  /**
   * Clicks what `find` finds, finding it again if the page redrew it in between (the side lists
   * are redrawn as messages and presence changes come).
   */
  async #clickFound(find: () => Promise<ElementHandle | null>): Promise<void> {
    await this.page.bringToFront();
    for (let attempt = 1;; attempt++) {
      try {
        await (await find())!.click();
        return;
      } catch (error) {
        if (attempt >= 5 || !/detached|not clickable/i.test(String(error))) throw error;
      }
    }
  }

  /** Types a message and sends it with Enter. */
  async say(text: string): Promise<void> {
    await this.fill("Message", text);
    await this.page.keyboard.press("Enter");
    await this.waitForMessage(text);
  }

  /** Waits until the open conversation shows a message with this text. */
  async waitForMessage(text: string): Promise<void> {
    await this.page.waitForFunction(
      (wanted) =>
        [...document.querySelectorAll("#messages .text")].some((node) =>
          node.textContent === wanted
        ),
      { polling: 100 },
      text,
    );
  }

  /** The texts of the open conversation's messages, in order. */
  messages(): Promise<string[]> {
    return this.page.$$eval("#messages .text", (nodes) => nodes.map((node) => node.textContent!));
  }

  /** The text of an element (an error line, the status). */
  text(selector: string): Promise<string> {
    return this.page.$eval(selector, (element) => element.textContent ?? "");
  }

  /** Waits until the element's text matches. */
  async waitForText(selector: string, pattern: RegExp): Promise<void> {
    await this.page.waitForFunction(
      (selector, source, flags) =>
        new RegExp(source, flags).test(document.querySelector(selector)?.textContent ?? ""),
      { polling: 100 },
      selector,
      pattern.source,
      pattern.flags,
    );
  }
}

/**
 * Runs `body`; if it throws, saves a screenshot of every page to a temporary directory and
 * says where before rethrowing.
 */
export async function screenshotOnFailure(
  pages: () => Page[],
  name: string,
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (error) {
    const dir = await Deno.makeTempDir({ prefix: "chat-web-failure-" });
    for (const [index, page] of pages().entries()) {
      const path = `${dir}/${name.replaceAll(/\W+/g, "_")}-${index}.png`;
      await page.screenshot({ path: path as `${string}.png`, fullPage: true }).catch(() => {});
      console.error(`screenshot of the failing page: ${path}`);
    }
    throw error;
  }
}
