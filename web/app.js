// @ts-check
// The web client's page: wires the link to the server (chat_link.js) and what the client knows
// (chat_state.js) to the DOM of index.html. Every text from the server goes in as text, never
// as markup. Errors are shown next to the form that caused them. Removing the friend or leaving
// the group of the open conversation is end_conversation.js, behind a two-step button
// (confirm_button.js); the change of password is password_form.js.

import { ChatLink, MsgId, RequestError } from "./chat_link.js";
import { ChatState, groupKey, userKey } from "./chat_state.js";
import { ConfirmButton } from "./confirm_button.js";
import { endConversation, endOffer } from "./end_conversation.js";
import { setUpPasswordForm } from "./password_form.js";

/** @typedef {Record<string, any>} Frame */

/** Messages asked for per HISTORY page. */
const HISTORY_PAGE = 30;
/** Where a reloaded page finds its session (this tab only). */
const SESSION_KEY = "chat.session";

const $ = (
  /** @type {string} */ id,
) => /** @type {HTMLElement} */ (document.getElementById(id));
const input = (
  /** @type {string} */ id,
) => /** @type {HTMLInputElement} */ ($(id));

const state = new ChatState();
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
/** History pages being read, by conversation key. */
const loadingHistory = new Set();

const link = new ChatLink({
  url: wsUrl,
  onStatus: showStatus,
  onLoggedIn: loggedIn,
  onLoggedOut: (reason) => {
    forgetSession();
    showLogin(reason);
  },
  onPush: pushed,
});
const endButton = new ConfirmButton(
  /** @type {HTMLButtonElement} */ ($("end-conversation")),
  endOpenConversation,
);
const closePasswordForm = setUpPasswordForm(link, () => {
  rememberSession();
  $("status").textContent = "Password changed; other devices must log in again with the new one.";
});

function showStatus(
  /** @type {string} */ status,
  /** @type {string | undefined} */ detail,
) {
  const text = {
    connecting: "connecting…",
    online: "",
    reconnecting: "connection to the server lost; reconnecting…",
    offline: detail ?? "",
  }[status] ?? "";
  $("status").textContent = text;
  document.body.dataset.status = status;
}

/** A message for the error line of a form. */
function errorText(/** @type {unknown} */ error) {
  if (error instanceof RequestError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

// ---- logging in ----

async function ensureOpen() {
  if (!link.connected) await link.open();
}

async function logIn(/** @type {boolean} */ register) {
  const name = input("username").value.trim();
  const password = input("password").value;
  const error = $("login-error");
  error.textContent = "";
  if (!name || !password) {
    error.textContent = "Enter a username and a password.";
    (name ? input("password") : input("username")).focus();
    return;
  }
  try {
    await ensureOpen();
    if (register) await link.request({ msgid: MsgId.REGISTER, name, password });
    await link.login(name, password);
  } catch (failure) {
    error.textContent = errorText(failure);
    return;
  }
  input("password").value = "";
  rememberSession();
}

function rememberSession() {
  const token = link.token;
  if (token && state.me) {
    sessionStorage.setItem(
      SESSION_KEY,
      JSON.stringify({ name: state.me.name, token }),
    );
  }
}

function forgetSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Logs in again with the token a reloaded tab kept, if any. */
async function resumeSession() {
  const saved = sessionStorage.getItem(SESSION_KEY);
  if (!saved) return;
  try {
    const { name, token } = JSON.parse(saved);
    await ensureOpen();
    await link.resume(name, token);
  } catch {
    forgetSession();
  }
}

function loggedIn(/** @type {Frame} */ view) {
  state.loggedIn(view);
  rememberSession();
  $("me").textContent = `${view.name} (id ${view.id})`;
  $("who").hidden = false;
  $("login-view").hidden = true;
  $("chat-view").hidden = false;
  const shown = [];
  for (const chat of view.offlinemsg ?? []) {
    state.received(chat);
    shown.push(chat.mid);
  }
  renderAll();
  if (shown.length > 0) link.receipt(shown);
  if (!state.open) input("friend-id").focus();
}

function showLogin(/** @type {string} */ reason = "") {
  state.loggedOut();
  closePasswordForm();
  $("who").hidden = true;
  $("chat-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = reason;
  input("username").focus();
}

// ---- what the server pushes ----

function pushed(/** @type {Frame} */ frame) {
  switch (frame.msgid) {
    case MsgId.ONE_CHAT:
    case MsgId.GROUP_CHAT: {
      const key = state.received(/** @type {any} */ (frame));
      if (key) {
        if (key === state.open) {
          // The title too: the sender's name may be new to the client.
          renderTitle();
          renderMessages(true);
        }
        renderLists();
      }
      // Acknowledged every time it comes, shown once.
      link.receipt([frame.mid]);
      break;
    }
    case MsgId.PRESENCE:
      state.presence(/** @type {any} */ (frame));
      renderLists();
      renderMembers();
      break;
    case MsgId.ROSTER:
      state.roster(frame);
      renderAll();
      if (frame.event === "friend_removed") {
        const name = state.nameOf(frame.id) ?? `user #${frame.id}`;
        $("status").textContent = `${name} removed you as a friend.`;
      }
      break;
    case MsgId.NOTICE:
      $("status").textContent = String(frame.errmsg ?? frame.notice);
      break;
    case MsgId.ERROR:
      $("status").textContent = `server: ${frame.errmsg}`;
      break;
  }
}

// ---- rendering ----

function renderAll() {
  renderLists();
  renderConversation();
}

function renderLists() {
  // The lists are drawn anew: a keyboard user's focus stays on the same entry.
  const focused = document.activeElement instanceof HTMLElement
    ? document.activeElement.dataset.key
    : undefined;
  $("friends").replaceChildren(
    ...state.people().map((person) =>
      entry(userKey(person.id), person.name, personDetail(person.state))
    ),
  );
  const groups = [...state.groups.values()].sort((a, b) => a.groupname.localeCompare(b.groupname));
  $("groups").replaceChildren(
    ...groups.map((group) =>
      entry(
        groupKey(group.id),
        group.groupname,
        group.users.length === 1 ? "1 member" : `${group.users.length} members`,
      )
    ),
  );
  if (focused) {
    /** @type {HTMLElement | null} */ (document.querySelector(
      `button.entry[data-key="${focused}"]`,
    ))
      ?.focus();
  }
  const unread = state.unread;
  document.title = unread > 0 ? `(${unread}) chat` : "chat";
}

/** What the list says of a person: their presence, or that they are not a friend. */
function personDetail(/** @type {string | null} */ state) {
  if (state === null) return "not a friend";
  // A friend added on a server whose reply does not say (see ChatState.addFriend).
  return state === "unknown" ? "" : state;
}

/** One friend or group in the side lists: a button opening its conversation. */
function entry(
  /** @type {string} */ key,
  /** @type {string} */ name,
  /** @type {string} */ detail,
) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "entry";
  button.dataset.key = key;
  if (key === state.open) button.setAttribute("aria-current", "true");
  const title = document.createElement("span");
  title.className = "name";
  title.textContent = name;
  const note = document.createElement("span");
  note.className = "detail";
  note.dataset.state = detail;
  note.textContent = detail;
  button.append(title, " ", note);
  const unread = state.conversations.get(key)?.unread ?? 0;
  if (unread > 0) {
    const badge = document.createElement("span");
    badge.className = "unread";
    badge.textContent = `${unread} unread`;
    button.append(" ", badge);
  }
  button.addEventListener("click", () => openConversation(key));
  item.append(button);
  return item;
}

function conversationTitle(/** @type {string} */ key) {
  const id = Number(key.slice(2));
  if (key.startsWith("g:")) {
    return `Group ${state.groups.get(id)?.groupname ?? `#${id}`}`;
  }
  return `Chat with ${state.friends.get(id)?.name ?? state.nameOf(id) ?? `user #${id}`}`;
}

function renderConversation() {
  $("send-form").hidden = state.open === null;
  renderTitle();
  renderMembers();
  renderMessages(true);
}

/** The open conversation's title, and the button beside it that ends it. */
function renderTitle() {
  const key = state.open;
  $("conversation-title").textContent = key ? conversationTitle(key) : "Pick a friend or a group";
  endButton.show(endOffer(state, key));
}

function renderMembers() {
  const key = state.open;
  const members = $("members");
  const group = key?.startsWith("g:") ? state.groups.get(Number(key.slice(2))) : undefined;
  members.hidden = !group;
  if (!group) return;
  members.textContent = "Members: " +
    group.users.map((user) =>
      `${user.name} (${user.role === "creator" ? "creator, " : ""}${user.state})`
    ).join(", ");
}

/** Redraws the open conversation; `follow` keeps the view at the bottom if it was there. */
function renderMessages(/** @type {boolean} */ follow) {
  const list = $("messages");
  const key = state.open;
  if (!key) {
    list.replaceChildren();
    return;
  }
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const fromBottom = list.scrollHeight - list.scrollTop;
  const conversation = state.conversation(key);
  const items = conversation.messages.map((chat) => {
    const item = document.createElement("li");
    item.className = chat.id === state.me?.id ? "mine" : "theirs";
    item.dataset.mid = String(chat.mid);
    const meta = document.createElement("span");
    meta.className = "meta";
    const time = document.createElement("time");
    time.dateTime = chat.time;
    time.textContent = new Date(chat.time).toLocaleTimeString([], {
      hour: "2-digit",
      minute: "2-digit",
    });
    meta.append(time, ` ${chat.name}`);
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = chat.msg;
    item.append(meta, text);
    return item;
  });
  if (conversation.historyDone) {
    const start = document.createElement("li");
    start.className = "start";
    start.textContent = "start of the conversation";
    items.unshift(start);
  }
  list.replaceChildren(...items);
  if (follow && atBottom) list.scrollTop = list.scrollHeight;
  else list.scrollTop = list.scrollHeight - fromBottom;
}

async function openConversation(/** @type {string} */ key) {
  state.openConversation(key);
  $("conversation-error").textContent = "";
  renderAll();
  $("messages").scrollTop = $("messages").scrollHeight;
  input("message").focus();
  const conversation = state.conversation(key);
  if (
    conversation.messages.length < HISTORY_PAGE && !conversation.historyDone
  ) {
    await loadHistory(key);
  }
}

/** Reads the page of history before what the conversation holds. */
async function loadHistory(/** @type {string} */ key) {
  const conversation = state.conversation(key);
  if (loadingHistory.has(key) || conversation.historyDone) return;
  loadingHistory.add(key);
  const before = state.historyCursor(key);
  const id = Number(key.slice(2));
  try {
    const reply = await link.request({
      msgid: MsgId.HISTORY,
      ...(key.startsWith("g:") ? { groupid: id } : { peer: id }),
      ...(before === null ? {} : { before }),
      limit: HISTORY_PAGE,
    });
    const page = reply.messages ?? [];
    // A conversation forgotten meanwhile (friend removed, group left) is not brought back.
    if (state.conversations.get(key) !== conversation) return;
    state.history(key, page, page.length < HISTORY_PAGE);
    if (state.open === key) renderMessages(false);
  } catch (error) {
    if (state.open === key) {
      $("send-error").textContent = `history: ${errorText(error)}`;
    }
  } finally {
    loadingHistory.delete(key);
  }
}

// ---- sending and the side forms ----

async function sendMessage() {
  const key = state.open;
  const field = input("message");
  const text = field.value;
  const error = $("send-error");
  error.textContent = "";
  if (!key || !state.me) return;
  if (text.trim() === "") {
    error.textContent = "Type a message first.";
    return;
  }
  const id = Number(key.slice(2));
  const group = key.startsWith("g:");
  const target = group ? { groupid: id } : { toid: id };
  const msgid = group ? MsgId.GROUP_CHAT : MsgId.ONE_CHAT;
  field.value = "";
  try {
    const ack = await link.request({
      msgid,
      ...target,
      msg: text,
      key: crypto.randomUUID(),
    }, {
      resend: true,
    });
    const me = state.me;
    if (!me) return;
    state.received({
      msgid,
      mid: ack.mid,
      id: me.id,
      name: me.name,
      ...target,
      msg: text,
      time: ack.time,
    });
    if (state.open === key) renderMessages(true);
    $("messages").scrollTop = $("messages").scrollHeight;
  } catch (failure) {
    if (field.value === "") field.value = text;
    error.textContent = errorText(failure);
  }
}

/** Runs a side form's request, showing its error beside it. */
async function sideForm(
  /** @type {string} */ errorId,
  /** @type {HTMLInputElement} */ field,
  /** @type {() => Promise<void>} */ action,
) {
  const error = $(errorId);
  error.textContent = "";
  try {
    await action();
    field.value = "";
  } catch (failure) {
    error.textContent = errorText(failure);
    field.focus();
  }
}

function idIn(/** @type {HTMLInputElement} */ field) {
  const value = field.value.trim();
  if (!/^[1-9][0-9]*$/.test(value)) {
    throw new Error("Enter a number, the id you were given.");
  }
  return Number(value);
}

async function addFriend() {
  const friendid = idIn(input("friend-id"));
  const reply = await link.request({ msgid: MsgId.ADD_FRIEND, friendid });
  state.addFriend(reply.friend ?? { id: friendid });
  renderLists();
  renderTitle();
}

/** Removes the friend or leaves the group of conversation `key` (asked twice by its button). */
async function endOpenConversation(/** @type {string} */ key) {
  const error = $("conversation-error");
  error.textContent = "";
  try {
    await endConversation(link, state, key);
  } catch (failure) {
    error.textContent = errorText(failure);
    return;
  }
  renderAll();
  input(key.startsWith("g:") ? "group-id" : "friend-id").focus();
}

async function joinGroup() {
  const groupid = idIn(input("group-id"));
  const reply = await link.request({ msgid: MsgId.ADD_GROUP, groupid });
  state.addGroup(
    reply.group ??
      { id: groupid, groupname: `group #${groupid}`, groupdesc: "", users: [] },
  );
  renderLists();
}

async function createGroup() {
  const groupname = input("group-name").value.trim();
  if (!groupname) throw new Error("Enter a name for the group.");
  const reply = await link.request({
    msgid: MsgId.CREATE_GROUP,
    groupname,
    groupdesc: "",
  });
  const me = /** @type {{ id: number, name: string }} */ (state.me);
  state.addGroup({
    id: reply.groupid,
    groupname,
    groupdesc: "",
    users: [{ id: me.id, name: me.name, state: "online", role: "creator" }],
  });
  renderLists();
}

// ---- events ----

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void logIn(false);
});
$("register").addEventListener("click", () => void logIn(true));
$("logout").addEventListener("click", async () => {
  forgetSession();
  await link.logout();
  showLogin();
});
$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void sendMessage();
});
$("add-friend-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void sideForm("add-friend-error", input("friend-id"), addFriend);
});
$("join-group-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void sideForm("join-group-error", input("group-id"), joinGroup);
});
$("create-group-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void sideForm("create-group-error", input("group-name"), createGroup);
});
$("messages").addEventListener("scroll", () => {
  if (state.open && $("messages").scrollTop < 40) void loadHistory(state.open);
});

// A reloaded tab logs in again with its session token; otherwise the form.
void resumeSession().then(() => {
  if (!state.me) showLogin();
});
