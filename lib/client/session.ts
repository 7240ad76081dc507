// The client's flow: the main menu (login, register, quit), then the command loop of a
// logged-in user. Each input line is handled to the end (its reply shown) before the next is
// read. End of input logs out. A lost connection is re-established by the Link (see link.ts):
// this flow only waits for it, and ends with ConnectionClosedError when the Link gives up.

import { type Frame, MsgId } from "../protocol.ts";
import {
  changePasswordFrame,
  checkNewName,
  checkPassword,
  loginFrame,
  parseCommand,
  parseLoginIdentity,
  parseMenuChoice,
  type RequestCommand,
  requestFrame,
} from "./commands.ts";
import { ConnectionClosedError } from "./connection.ts";
import type { Link } from "./link.ts";
import {
  formatHistory,
  formatLoginSummary,
  formatRegistered,
  formatReplyError,
  formatSuccess,
  formatUpdate,
  formatView,
  HELP_LINES,
  MENU_LINES,
} from "./render.ts";
import type { Terminal } from "./terminal.ts";
import { afterSuccess, afterUpdate, type ClientView } from "./view.ts";

/** How long a request may wait for its reply before the client reports it and moves on. */
const REPLY_TIMEOUT_MS = 15_000;
/** How long logging out at end of input may take. */
const LOGOUT_AT_EXIT_TIMEOUT_MS = 2_000;

/** Thrown inside the session when input ends; never escapes it. */
class EndOfInput extends Error {}

/** Runs the menu and command loops until the user quits or input ends. */
export async function runSession(link: Link, terminal: Terminal): Promise<void> {
  const session = new Session(link, terminal);
  await session.run();
}

class Session {
  readonly #link: Link;
  readonly #terminal: Terminal;
  #view: ClientView | null = null;

  constructor(link: Link, terminal: Terminal) {
    this.#link = link;
    this.#terminal = terminal;
    link.onRelogin = (view) => this.#view = view;
    link.onUpdate = (update) => {
      if (!this.#view) return;
      this.#print(formatUpdate(update, this.#view, new Date()));
      this.#view = afterUpdate(this.#view, update);
    };
  }

  async run(): Promise<void> {
    try {
      await this.#mainMenu();
    } catch (error) {
      if (!(error instanceof EndOfInput)) throw error;
      if (this.#view) await this.#logoutAtExit();
    }
  }

  async #mainMenu(): Promise<void> {
    while (true) {
      if (this.#terminal.interactive) this.#print(MENU_LINES);
      const choice = parseMenuChoice(await this.#ask("choice: "));
      if ("error" in choice) {
        this.#print(`error: ${choice.error}`);
        continue;
      }
      switch (choice.kind) {
        case "quit":
          return;
        case "sleep":
          await this.#sleep(choice.ms);
          break;
        case "register":
          await this.#register();
          break;
        case "login":
          if (await this.#login() && await this.#commandLoop() === "quit") return;
          break;
      }
    }
  }

  async #register(): Promise<void> {
    const name = checkNewName(await this.#ask("username: "));
    if (typeof name !== "string") return this.#print(`error: ${name.error}`);
    const password = checkPassword(await this.#ask("password: ", true));
    if (typeof password !== "string") return this.#print(`error: ${password.error}`);
    const reply = await this.#request({ msgid: MsgId.REGISTER, name, password }, false);
    if (!reply) return;
    this.#print(formatReplyError(reply, MsgId.REGISTER_ACK) ?? formatRegistered(reply));
  }

  /** Returns whether the user is now logged in. */
  async #login(): Promise<boolean> {
    const identity = parseLoginIdentity(await this.#ask("userid or name: "));
    if ("error" in identity) {
      this.#print(`error: ${identity.error}`);
      return false;
    }
    const password = checkPassword(await this.#ask("password: ", true));
    if (typeof password !== "string") {
      this.#print(`error: ${password.error}`);
      return false;
    }
    const reply = await this.#request(loginFrame(identity, { password }), false);
    if (!reply) return false;
    const error = formatReplyError(reply, MsgId.LOGIN_ACK);
    if (error) {
      this.#print(error);
      return false;
    }
    const login = this.#link.loggedIn(reply, identity);
    this.#view = login.view;
    this.#print(formatLoginSummary(login));
    if (this.#terminal.interactive) this.#print("type help for the commands");
    return true;
  }

  /** Runs the user's commands until they log out (back to the menu) or quit the client. */
  async #commandLoop(): Promise<"logout" | "quit"> {
    while (this.#view) {
      const line = await this.#ask(`${this.#view.name}> `);
      if (line.trim() === "") continue;
      const command = parseCommand(line);
      if ("error" in command) {
        this.#print(`error: ${command.error}`);
        continue;
      }
      switch (command.kind) {
        case "help":
          this.#print(HELP_LINES);
          break;
        case "show":
          this.#print(formatView(this.#view));
          break;
        case "sleep":
          await this.#sleep(command.ms);
          break;
        case "passwd":
          await this.#changePassword();
          break;
        case "quit":
          await this.#logoutAtExit();
          return "quit";
        default:
          await this.#send(command);
      }
    }
    return "logout";
  }

  /** Asks for the old password and the new one twice, none echoed, and changes it. */
  async #changePassword(): Promise<void> {
    const old = checkPassword(await this.#ask("old password: ", true));
    if (typeof old !== "string") return this.#print(`error: ${old.error}`);
    const replacement = checkPassword(await this.#ask("new password: ", true));
    if (typeof replacement !== "string") return this.#print(`error: ${replacement.error}`);
    if (await this.#ask("new password again: ", true) !== replacement) {
      return this.#print("error: the new passwords differ; nothing was changed");
    }
    const reply = await this.#request(changePasswordFrame(old, replacement), false);
    if (!reply) return;
    const error = formatReplyError(reply, MsgId.ACK);
    if (error) return this.#print(error);
    if (typeof reply.token === "string") this.#link.tokenReplaced(reply.token);
    this.#print("password changed; other devices must log in again with the new one");
  }

  async #send(command: RequestCommand): Promise<void> {
    if (command.kind === "logout") {
      this.#link.loggedOut();
      this.#view = null;
    }
    const frame = requestFrame(command);
    // A chat request carries an idempotency key, so resending it after a reconnect is safe.
    const chat = command.kind === "chat" || command.kind === "groupchat";
    if (chat) frame.key = crypto.randomUUID();
    const reply = await this.#request(frame, chat || command.kind === "history");
    if (!reply) return;
    const error = formatReplyError(reply, MsgId.ACK);
    if (error) return this.#print(error);
    if (command.kind === "history") return this.#print(formatHistory(command, reply));
    this.#print(formatSuccess(command, reply));
    if (this.#view) this.#view = afterSuccess(this.#view, command, reply);
  }

  /**
   * Sends a request and returns its reply, or null (reported) if none came. When the
   * connection is lost first, a `retry`-safe request is sent again once the Link has
   * reconnected; any other is reported as perhaps not done.
   */
  async #request(frame: Frame, retry: boolean): Promise<Frame | null> {
    while (true) {
      const connection = await this.#untilGivenUp(this.#link.ready());
      try {
        return await this.#untilGivenUp(
          connection.request(frame, AbortSignal.timeout(REPLY_TIMEOUT_MS)),
        );
      } catch (error) {
        if (error instanceof DOMException && error.name === "TimeoutError") {
          this.#print(`error: no reply from the server within ${REPLY_TIMEOUT_MS / 1000} s`);
          return null;
        }
        if (!(error instanceof ConnectionClosedError) || this.#link.gaveUp) throw error;
        if (!retry) {
          this.#print("error: the connection was lost before the reply; check whether it was done");
          return null;
        }
      }
    }
  }

  async #logoutAtExit(): Promise<void> {
    if (!this.#link.current.isOpen) return;
    this.#link.loggedOut();
    const timeout = AbortSignal.timeout(LOGOUT_AT_EXIT_TIMEOUT_MS);
    try {
      const reply = await this.#link.current.request({ msgid: MsgId.LOGOUT }, timeout);
      this.#print(formatReplyError(reply, MsgId.ACK) ?? "logged out");
    } catch {
      // Leaving anyway: the server logs out a user whose connection closes.
    }
  }

  /** The next input line; throws EndOfInput at the end of input. */
  async #ask(prompt: string, secret = false): Promise<string> {
    const line = await this.#untilGivenUp(this.#terminal.read(prompt, { secret }));
    if (line === null) throw new EndOfInput();
    return line;
  }

  async #sleep(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await this.#untilGivenUp(new Promise<void>((resolve) => timer = setTimeout(resolve, ms)));
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for `work`, but throws ConnectionClosedError as soon as the Link gives up. */
  #untilGivenUp<T>(work: Promise<T>): Promise<T> {
    return this.#link.guard(work);
  }

  #print(text: string | string[]): void {
    this.#terminal.print(typeof text === "string" ? text : text.join("\n"));
  }
}
