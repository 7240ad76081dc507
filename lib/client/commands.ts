// What the user types, parsed into typed commands, and the request frame each command sends.
// Pure: no I/O, so every rule here is unit-tested.

import { countCodePoints, type Frame, Limits, MsgId } from "../protocol.ts";

/** Why a line was rejected; nothing is sent for it. */
export interface ParseError {
  error: string;
}

export type MenuChoice =
  | { kind: "login" }
  | { kind: "register" }
  | { kind: "quit" }
  | { kind: "sleep"; ms: number };

/** A command of a logged-in user that sends a request. */
export type RequestCommand =
  | { kind: "chat"; toid: number; msg: string }
  | { kind: "addfriend"; friendid: number }
  | { kind: "removefriend"; friendid: number }
  | { kind: "creategroup"; groupname: string; groupdesc: string }
  | { kind: "addgroup"; groupid: number }
  | { kind: "leavegroup"; groupid: number }
  | { kind: "groupchat"; groupid: number; msg: string }
  | HistoryCommand
  | { kind: "logout" };

/** A page of a conversation with a friend (`peer`) or in a group (`groupid`). */
export type HistoryCommand = {
  kind: "history";
  count: number;
  /** Only messages older than this mid; null for the newest. */
  before: number | null;
} & ({ peer: number } | { groupid: number });

export type Command =
  | RequestCommand
  | { kind: "passwd" }
  | { kind: "help" }
  | { kind: "show" }
  | { kind: "quit" }
  | { kind: "sleep"; ms: number };

export type LoginIdentity = { id: number } | { name: string };

const USAGE: Record<string, string> = {
  chat: "chat:<friendid>:<message>",
  addfriend: "addfriend:<friendid>",
  removefriend: "removefriend:<friendid>",
  creategroup: "creategroup:<groupname>[:<groupdesc>]",
  addgroup: "addgroup:<groupid>",
  leavegroup: "leavegroup:<groupid>",
  groupchat: "groupchat:<groupid>:<message>",
  history: "history:<friendid>[:<count>[:<before mid>]]",
  grouphistory: "grouphistory:<groupid>[:<count>[:<before mid>]]",
  sleep: "sleep:<ms>",
};
const NO_ARGUMENT: Record<string, Command> = {
  help: { kind: "help" },
  show: { kind: "show" },
  info: { kind: "show" },
  passwd: { kind: "passwd" },
  loginout: { kind: "logout" },
  logout: { kind: "logout" },
  quit: { kind: "quit" },
  exit: { kind: "quit" },
};
const MENU: Record<string, MenuChoice> = {
  "1": { kind: "login" },
  "login": { kind: "login" },
  "2": { kind: "register" },
  "register": { kind: "register" },
  "3": { kind: "quit" },
  "quit": { kind: "quit" },
};
const MAX_SLEEP_MS = 2 ** 31 - 1;

/** Parses a main-menu line: `1`/`login`, `2`/`register`, `3`/`quit`, or `sleep:<ms>`. */
export function parseMenuChoice(line: string): MenuChoice | ParseError {
  const text = line.trim();
  const choice = MENU[text.toLowerCase()];
  if (choice) return choice;
  const [keyword, rest] = splitOnce(text);
  if (keyword.toLowerCase() === "sleep" && rest !== undefined) return parseSleep(rest);
  return { error: `invalid choice "${text}": enter 1, 2 or 3` };
}

/** Parses a command line of a logged-in user; see USAGE for the syntax. */
export function parseCommand(line: string): Command | ParseError {
  const text = line.trim();
  const [rawKeyword, rest] = splitOnce(text);
  const keyword = rawKeyword.toLowerCase();
  if (rest === undefined) {
    const command = NO_ARGUMENT[keyword];
    if (command) return command;
    if (USAGE[keyword]) return { error: `usage: ${USAGE[keyword]}` };
    return { error: `unknown command "${text}" (type help)` };
  }
  switch (keyword) {
    case "chat":
      return withIdAndMessage(keyword, rest, (toid, msg) => ({ kind: "chat", toid, msg }));
    case "groupchat":
      return withIdAndMessage(
        keyword,
        rest,
        (groupid, msg) => ({ kind: "groupchat", groupid, msg }),
      );
    case "addfriend":
      return withId(rest, "friend id", (friendid) => ({ kind: "addfriend", friendid }));
    case "removefriend":
      return withId(rest, "friend id", (friendid) => ({ kind: "removefriend", friendid }));
    case "addgroup":
      return withId(rest, "group id", (groupid) => ({ kind: "addgroup", groupid }));
    case "leavegroup":
      return withId(rest, "group id", (groupid) => ({ kind: "leavegroup", groupid }));
    case "creategroup":
      return parseCreateGroup(rest);
    case "history":
    case "grouphistory":
      return parseHistory(keyword, rest);
    case "sleep":
      return parseSleep(rest);
  }
  if (NO_ARGUMENT[keyword]) return { error: `usage: ${keyword} (it takes no arguments)` };
  return { error: `unknown command "${rawKeyword}" (type help)` };
}

/** Login asks "userid or name": digits are an id, anything else a name. */
export function parseLoginIdentity(line: string): LoginIdentity | ParseError {
  const text = line.trim();
  if (text === "") return { error: "enter a user id or name" };
  if (/^\d+$/.test(text)) {
    const id = parseId(text, "user id");
    return typeof id === "number" ? { id } : id;
  }
  return { name: text };
}

/** A name to register: 1–50 characters and not all digits (login would read it as an id). */
export function checkNewName(line: string): string | ParseError {
  const name = line.trim();
  const length = countCodePoints(name);
  if (length === 0 || length > Limits.nameMax) {
    return { error: `a name has 1 to ${Limits.nameMax} characters` };
  }
  if (/^\d+$/.test(name)) return { error: "a name cannot be all digits (it would read as an id)" };
  return name;
}

/** A password is taken as typed (not trimmed): 1–128 characters. */
export function checkPassword(password: string): string | ParseError {
  const length = countCodePoints(password);
  if (length === 0 || length > Limits.passwordMax) {
    return { error: `a password has 1 to ${Limits.passwordMax} characters` };
  }
  return password;
}

/** The request frame a command sends; the connection adds `seq`. */
export function requestFrame(command: RequestCommand): Frame {
  switch (command.kind) {
    case "chat":
      return { msgid: MsgId.ONE_CHAT, toid: command.toid, msg: command.msg };
    case "addfriend":
      return { msgid: MsgId.ADD_FRIEND, friendid: command.friendid };
    case "creategroup":
      return {
        msgid: MsgId.CREATE_GROUP,
        groupname: command.groupname,
        groupdesc: command.groupdesc,
      };
    case "removefriend":
      return { msgid: MsgId.REMOVE_FRIEND, friendid: command.friendid };
    case "addgroup":
      return { msgid: MsgId.ADD_GROUP, groupid: command.groupid };
    case "leavegroup":
      return { msgid: MsgId.LEAVE_GROUP, groupid: command.groupid };
    case "groupchat":
      return { msgid: MsgId.GROUP_CHAT, groupid: command.groupid, msg: command.msg };
    case "history": {
      const target = "peer" in command ? { peer: command.peer } : { groupid: command.groupid };
      const before = command.before === null ? {} : { before: command.before };
      return { msgid: MsgId.HISTORY, ...target, limit: command.count, ...before };
    }
    case "logout":
      return { msgid: MsgId.LOGOUT };
  }
}

/** What a login proves the user with: the password once, the session token afterwards. */
export type LoginSecret = { password: string } | { token: string };

/** A LOGIN request; the client always asks for receipts (it acknowledges what it shows). */
export function loginFrame(identity: LoginIdentity, secret: LoginSecret): Frame {
  return { msgid: MsgId.LOGIN, ...identity, ...secret, receipts: true };
}

/** A CHANGE_PASSWORD request. */
export function changePasswordFrame(old: string, replacement: string): Frame {
  return { msgid: MsgId.CHANGE_PASSWORD, old, new: replacement };
}

/** Splits at the first colon: `["chat", "2:hi"]`; the second part is absent without a colon. */
function splitOnce(text: string): [string, string | undefined] {
  const colon = text.indexOf(":");
  return colon < 0 ? [text, undefined] : [text.slice(0, colon), text.slice(colon + 1)];
}

function parseId(text: string, what: string): number | ParseError {
  const trimmed = text.trim();
  const id = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(id) || id < 1) {
    return { error: `${what} must be a positive integer, not "${trimmed}"` };
  }
  return id;
}

function withId(
  rest: string,
  what: string,
  build: (id: number) => Command,
): Command | ParseError {
  const id = parseId(rest, what);
  return typeof id === "number" ? build(id) : id;
}

function withIdAndMessage(
  keyword: "chat" | "groupchat",
  rest: string,
  build: (id: number, msg: string) => Command,
): Command | ParseError {
  const [idText, msg] = splitOnce(rest);
  if (msg === undefined) return { error: `usage: ${USAGE[keyword]}` };
  const id = parseId(idText, keyword === "chat" ? "friend id" : "group id");
  if (typeof id !== "number") return id;
  if (msg === "") return { error: "the message is empty" };
  const length = countCodePoints(msg);
  if (length > Limits.msgMax) {
    return { error: `the message has ${length} characters, at most ${Limits.msgMax}` };
  }
  return build(id, msg);
}

function parseCreateGroup(rest: string): Command | ParseError {
  const [nameText, descText = ""] = splitOnce(rest);
  const groupname = nameText.trim();
  const groupdesc = descText.trim();
  if (groupname === "" || countCodePoints(groupname) > Limits.groupNameMax) {
    return { error: `a group name has 1 to ${Limits.groupNameMax} characters` };
  }
  if (countCodePoints(groupdesc) > Limits.groupDescMax) {
    return { error: `a group description has at most ${Limits.groupDescMax} characters` };
  }
  return { kind: "creategroup", groupname, groupdesc };
}

/** Messages a history command shows when no count is given. */
export const DEFAULT_HISTORY_COUNT = 20;

function parseHistory(
  keyword: "history" | "grouphistory",
  rest: string,
): HistoryCommand | ParseError {
  const [idText, countText, beforeText, ...extra] = rest.split(":");
  if (extra.length > 0) return { error: `usage: ${USAGE[keyword]}` };
  const id = parseId(idText, keyword === "history" ? "friend id" : "group id");
  if (typeof id !== "number") return id;
  const count = countText === undefined ? DEFAULT_HISTORY_COUNT : parseId(countText, "count");
  if (typeof count !== "number") return count;
  if (count > Limits.historyMax) return { error: `count is at most ${Limits.historyMax}` };
  const before = beforeText === undefined ? null : parseId(beforeText, "before mid");
  if (before !== null && typeof before !== "number") return before;
  const target = keyword === "history" ? { peer: id } : { groupid: id };
  return { kind: "history", count, before, ...target };
}

function parseSleep(rest: string): { kind: "sleep"; ms: number } | ParseError {
  const trimmed = rest.trim();
  const ms = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || ms > MAX_SLEEP_MS) {
    return { error: `usage: ${USAGE.sleep} (milliseconds, 0 to ${MAX_SLEEP_MS})` };
  }
  return { kind: "sleep", ms };
}
