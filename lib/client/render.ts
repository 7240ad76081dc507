// How the client shows things: chat messages, the login summary, the local view, and the
// outcome of each request. Pure text formatting; text from the server is made printable.

import { ERRNO_TEXT, type ErrnoValue } from "../errors.ts";
import { type ChatPush, type Frame, MsgId, type RosterUpdate } from "../protocol.ts";
import type { HistoryCommand, RequestCommand } from "./commands.ts";
import { errnoOf, type LoginResult, readChatPush, readHistory } from "./replies.ts";
import type { ClientView, KnownFriend, KnownGroup } from "./view.ts";

export const MENU_LINES = ["1. login", "2. register", "3. quit"];

export const HELP_LINES = [
  "commands:",
  "  help                                   show this list",
  "  show (or info)                         show your friends and groups as this client knows them",
  "  chat:<friendid>:<message>              send a message to a user",
  "  addfriend:<friendid>                   add a friend",
  "  removefriend:<friendid>                remove a friend (both ways)",
  "  creategroup:<groupname>[:<groupdesc>]  create a group",
  "  addgroup:<groupid>                     join a group",
  "  leavegroup:<groupid>                   leave a group",
  "  groupchat:<groupid>:<message>          send a message to a group",
  "  history:<friendid>[:<n>[:<mid>]]       the last n (20) messages with a friend, before mid",
  "  grouphistory:<groupid>[:<n>[:<mid>]]   the last n (20) messages of a group, before mid",
  "  passwd                                 change your password (asks for the old and the new)",
  "  sleep:<ms>                             wait, still showing incoming messages",
  "  loginout (or logout)                   log out and return to the menu",
  "  quit (or exit)                         log out and leave the client",
];

// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;
const NAMED_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** Text with control characters (which could move the cursor or recolour the terminal) escaped. */
export function printable(text: string): string {
  return text.replace(
    CONTROL_CHARACTERS,
    (char) => NAMED_ESCAPES[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** An ISO-8601 time as local "YYYY-MM-DD HH:MM:SS"; an unreadable one is shown as given. */
export function formatTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return printable(iso);
  const two = (value: number) => String(value).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** `[time] alice(1): hello` or `[time] group 3 | alice(1): hi`. */
export function formatPush(push: ChatPush): string {
  const sender = `${printable(push.name)}(${push.id})`;
  const where = push.msgid === MsgId.GROUP_CHAT ? `group ${push.groupid} | ` : "";
  return `[${formatTime(push.time)}] ${where}${sender}: ${printable(push.msg)}`;
}

/** A frame the server sent unprompted: a chat message, an error, or null (not shown). */
export function formatUnsolicited(frame: Frame): string | null {
  const push = readChatPush(frame);
  if (push) return formatPush(push);
  if (frame.msgid === MsgId.ERROR) return `server ${formatFailure(frame)}`;
  if (frame.msgid === MsgId.NOTICE) {
    const text = typeof frame.errmsg === "string" ? frame.errmsg : String(frame.notice);
    return `server notice: ${printable(text)}`;
  }
  return null;
}

/**
 * A roster update as a line in the style of incoming messages, read against the view before the
 * update (which knows the names of members and groups): `[time] bob(2) is online`,
 * `[time] carol(3) added you as a friend`, `[time] dave(4) joined group 3 (devs)`.
 */
export function formatUpdate(update: RosterUpdate, view: ClientView, now: Date): string {
  const stamp = `[${formatTime(now.toISOString())}]`;
  const who = (id: number, name: string | undefined) =>
    name ? `${printable(name)}(${id})` : `user ${id}`;
  const group = (groupid: number) => {
    const name = view.groups.find((known) => known.id === groupid)?.groupname;
    return name === undefined ? `group ${groupid}` : `group ${groupid} (${printable(name)})`;
  };
  const nameOf = (id: number) =>
    view.friends.find((friend) => friend.id === id)?.name ??
      view.groups.flatMap((known) => known.users).find((user) => user.id === id)?.name;
  if (update.msgid === MsgId.PRESENCE) {
    return `${stamp} ${who(update.id, update.name)} is ${update.state}`;
  }
  switch (update.event) {
    case "friend_added":
      return `${stamp} ${who(update.friend.id, update.friend.name)} added you as a friend`;
    case "friend_removed":
      return `${stamp} ${who(update.id, nameOf(update.id))} removed you as a friend`;
    case "member_joined":
      return `${stamp} ${who(update.user.id, update.user.name)} joined ${group(update.groupid)}`;
    case "member_left": {
      const left = `${stamp} ${who(update.id, nameOf(update.id))} left ${group(update.groupid)}`;
      if (update.creator === undefined) return left;
      const creator = update.creator === view.id
        ? "you are"
        : `${who(update.creator, nameOf(update.creator))} is`;
      return `${left}; ${creator} now its creator`;
    }
  }
}

/** A HISTORY reply: one line per message with its mid, and how to page further back. */
export function formatHistory(command: HistoryCommand, reply: Frame): string[] {
  const messages = readHistory(reply);
  const where = "peer" in command ? `with ${command.peer}` : `of group ${command.groupid}`;
  if (messages.length === 0) return [`history ${where}: no messages`];
  const lines = [`history ${where} (${messages.length}):`];
  lines.push(...messages.map((push) => `  #${push.mid} ${formatPush(push)}`));
  if (messages.length === command.count) {
    const keyword = "peer" in command ? "history" : "grouphistory";
    const id = "peer" in command ? command.peer : command.groupid;
    lines.push(`  older: ${keyword}:${id}:${command.count}:${messages[0].mid}`);
  }
  return lines;
}

/** `error: <errmsg> (errno N: <words>)`, without repeating errmsg when it is just the words. */
export function formatFailure(reply: Frame): string {
  const errno = errnoOf(reply);
  const words = errno !== undefined && errno in ERRNO_TEXT
    ? ERRNO_TEXT[errno as ErrnoValue]
    : "unknown error";
  const errmsg = typeof reply.errmsg === "string" && reply.errmsg !== ""
    ? printable(reply.errmsg)
    : words;
  return errmsg === words
    ? `error: ${words} (errno ${errno ?? "missing"})`
    : `error: ${errmsg} (errno ${errno ?? "missing"}: ${words})`;
}

/** The error to show for a reply, or null if it is a success of the expected msgid. */
export function formatReplyError(reply: Frame, expectedMsgid: number): string | null {
  const errno = errnoOf(reply);
  if (errno !== undefined && errno !== 0) return formatFailure(reply);
  if (reply.msgid !== expectedMsgid || errno === undefined) {
    return `error: unexpected reply from server (msgid ${printable(String(reply.msgid))})`;
  }
  return null;
}

/** What a successful ACK to a command means, e.g. "friend 5 added". */
export function formatSuccess(command: RequestCommand, ack: Frame): string {
  switch (command.kind) {
    case "chat":
    case "groupchat":
      return "sent";
    case "addfriend":
      return `friend ${command.friendid} added`;
    case "creategroup":
      return Number.isSafeInteger(ack.groupid) ? `group ${ack.groupid} created` : "group created";
    case "removefriend":
      return `friend ${command.friendid} removed`;
    case "addgroup":
      return `joined group ${command.groupid}`;
    case "leavegroup":
      return `left group ${command.groupid}`;
    case "history":
      return "history shown";
    case "logout":
      return "logged out";
  }
}

/** A successful REGISTER_ACK. */
export function formatRegistered(ack: Frame): string {
  return Number.isSafeInteger(ack.id) ? `registered, your id is ${ack.id}` : "registered";
}

/** Shown once after login: node, user, friends, groups, then the offline messages. */
export function formatLoginSummary(login: LoginResult): string[] {
  const lines = login.view.node === undefined
    ? []
    : [`connected to node ${printable(login.view.node)}`];
  lines.push(...formatView(login.view));
  if (login.offline.length > 0) {
    lines.push(`offline messages (${login.offline.length + login.more}):`);
    lines.push(...login.offline.map((push) => `  ${formatPush(push)}`));
  }
  if (login.more > 0) lines.push(`  ... ${login.more} more follow`);
  if (login.dropped > 0) {
    lines.push(
      `note: ${login.dropped} older offline messages were dropped because too many waited`,
    );
  }
  return lines;
}

/** The user, friends with online state, groups with members and roles. */
export function formatView(view: ClientView): string[] {
  const lines = [`logged in as ${printable(view.name)}(${view.id})`];
  lines.push(view.friends.length === 0 ? "friends: none" : `friends (${view.friends.length}):`);
  lines.push(...view.friends.map(formatFriend));
  lines.push(view.groups.length === 0 ? "groups: none" : `groups (${view.groups.length}):`);
  for (const group of view.groups) lines.push(...formatGroup(group));
  return lines;
}

function formatFriend(friend: KnownFriend): string {
  if (friend.name === undefined) return `  ${friend.id} (added in this session)`;
  return `  ${printable(friend.name)}(${friend.id}) ${friend.state ?? ""}`.trimEnd();
}

function formatGroup(group: KnownGroup): string[] {
  const title = group.groupname === undefined
    ? `  group ${group.id} (joined in this session)`
    : `  group ${group.id} ${printable(group.groupname)}` +
      (group.groupdesc ? `: ${printable(group.groupdesc)}` : "");
  const members = group.users.map((user) =>
    `    ${printable(user.name)}(${user.id}) ${user.role} ${user.state}`
  );
  return [title, ...members];
}
