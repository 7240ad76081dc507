// Line input and output of the client. On a terminal: prompts, line editing and history via
// node:readline, passwords not echoed (nor kept in history), and output printed above the line
// being typed. With piped stdin: no prompts, one line at a time, end of input as null.

import process from "node:process";
import * as readline from "node:readline";
import { Writable } from "node:stream";

export interface Terminal {
  /** True when a person types (stdin is a terminal): prompts and menus are shown. */
  readonly interactive: boolean;
  /** The next input line, or null at end of input (Ctrl-D, Ctrl-C, end of the pipe). */
  read(prompt: string, options?: { secret?: boolean }): Promise<string | null>;
  /** Prints text (one or more lines) without garbling a line being typed. */
  print(text: string): void;
  close(): void;
}

/** The process's terminal or pipes. */
export function openTerminal(): Terminal {
  return new ConsoleTerminal(Deno.stdin.isTerminal(), Deno.stdout.isTerminal());
}

/** Passes writes to stdout unless muted; readline echoes through it. */
class MutableStdout extends Writable {
  muted = false;

  constructor() {
    super();
    process.stdout.on("resize", () => this.emit("resize"));
  }

  /** The terminal's width, which readline needs to redraw lines that wrap. */
  get columns(): number {
    return process.stdout.columns;
  }

  override _write(
    chunk: Uint8Array | string,
    _encoding: string,
    done: (error?: Error | null) => void,
  ): void {
    if (!this.muted) process.stdout.write(chunk);
    done();
  }
}

class ConsoleTerminal implements Terminal {
  readonly interactive: boolean;
  readonly #lines: AsyncIterator<string>;
  readonly #readline: readline.Interface;
  /** Set when stdin and stdout are both terminals: readline edits the line and echoes. */
  readonly #echo: MutableStdout | null;
  #reading = false;
  #secret = false;
  #closed = false;

  constructor(stdinIsTerminal: boolean, stdoutIsTerminal: boolean) {
    this.interactive = stdinIsTerminal;
    this.#echo = stdinIsTerminal && stdoutIsTerminal ? new MutableStdout() : null;
    this.#readline = readline.createInterface({
      input: process.stdin,
      output: this.#echo ?? undefined,
      terminal: this.#echo !== null,
      crlfDelay: Infinity,
    });
    this.#readline.on("history", (history: string[]) => {
      if (this.#secret) history.shift();
    });
    this.#readline.on("SIGINT", () => this.close());
    // Nobody reads the output any more (a closed pipe): end the session as at end of input.
    process.stdout.on("error", () => this.close());
    this.#readline.on("close", () => {
      this.#closed = true;
      // Leave the line being typed so that whatever follows starts on its own line.
      if (this.#reading && this.#echo && !this.#echo.muted) process.stdout.write("\n");
    });
    this.#lines = this.#readline[Symbol.asyncIterator]();
  }

  async read(prompt: string, options: { secret?: boolean } = {}): Promise<string | null> {
    this.#secret = options.secret === true;
    this.#showPrompt(prompt);
    this.#reading = true;
    try {
      const next = await this.#lines.next();
      return next.done ? null : next.value;
    } finally {
      this.#reading = false;
      if (this.#echo?.muted) {
        this.#echo.muted = false;
        process.stdout.write("\n");
      }
      this.#secret = false;
    }
  }

  print(text: string): void {
    if (!this.#echo || !this.#reading) {
      process.stdout.write(`${text}\n`);
      return;
    }
    // Erase the prompt and typed line (it may wrap onto several rows), print, then redraw them.
    // readline redraws by first moving up as many rows as the cursor was below the prompt's
    // start, so leave that many blank rows for it to reclaim.
    const rows = this.#echo.muted ? 0 : this.#readline.getCursorPos().rows;
    readline.moveCursor(process.stdout, 0, -rows);
    readline.cursorTo(process.stdout, 0);
    readline.clearScreenDown(process.stdout);
    process.stdout.write(`${text}\n${"\n".repeat(rows)}`);
    if (this.#echo.muted) process.stdout.write(this.#readline.getPrompt());
    else this.#readline.prompt(true);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#readline.close();
  }

  #showPrompt(prompt: string): void {
    if (!this.interactive) return;
    if (!this.#echo) {
      process.stdout.write(prompt);
      return;
    }
    this.#readline.setPrompt(prompt);
    this.#readline.prompt();
    this.#echo.muted = this.#secret;
  }
}
