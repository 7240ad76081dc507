// @ts-check
// What the web client knows, without any DOM: the user, friends with their presence, groups with
// their members, and one conversation per friend and per group, each holding its messages by mid
// (so a message shown once is never shown twice), its unread count and how far back its history
// has been read. The page (app.js) renders it; tests/web_state_test.ts checks it.

/** @typedef {{ id: number, name: string, state: string }} Friend */
/** @typedef {{ id: number, name: string, state: string, role: string }} Member */
/** @typedef {{ id: number, groupname: string, groupdesc: string, users: Member[] }} Group */
/**
 * @typedef {{ msgid: number, mid: number, id: number, name: string, toid?: number,
 *   groupid?: number, msg: string, time: string }} Chat
 */
/**
 * @typedef {{ key: string, messages: Chat[], unread: number, oldestMid: number | null,
 *   historyDone: boolean }} Conversation
 */

/** Most messages kept per conversation; older ones are read again with HISTORY if needed. */
export const MESSAGES_KEPT = 2000;

/** The conversation key of a friend or of a group. */
export function userKey(/** @type {number} */ id) {
  return `u:${id}`;
}
export function groupKey(/** @type {number} */ id) {
  return `g:${id}`;
}

export class ChatState {
  /** @type {{ id: number, name: string } | null} */
  me = null;
  /** @type {Map<number, Friend>} */
  friends = new Map();
  /** @type {Map<number, Group>} */
  groups = new Map();
  /** @type {Map<string, Conversation>} */
  conversations = new Map();
  /** The conversation on screen, whose messages count as read. @type {string | null} */
  open = null;
  /** Every mid held in some conversation. */
  #mids = new Set();
  /** Names of users seen (friends, members, senders), by id: at most one per user met. */
  /** @type {Map<number, string>} */
  #names = new Map();

  /** Takes the user's view from a successful login reply (again after each reconnect). */
  loggedIn(/** @type {Record<string, any>} */ view) {
    if (this.me && this.me.id !== view.id) this.#forgetAll();
    this.me = { id: view.id, name: view.name };
    this.friends = new Map(
      (view.friends ?? []).map((/** @type {Friend} */ f) => [f.id, f]),
    );
    this.groups = new Map(
      (view.groups ?? []).map((
        /** @type {Group} */ g,
      ) => [g.id, { ...g, users: [...g.users] }]),
    );
    for (const friend of this.friends.values()) {
      this.#names.set(friend.id, friend.name);
    }
    for (const group of this.groups.values()) {
      for (const user of group.users) this.#names.set(user.id, user.name);
    }
  }

  /** A user's name, if the client has met it. */
  nameOf(/** @type {number} */ id) {
    return this.#names.get(id);
  }

  /**
   * The people to list: friends, and whoever else the user has a conversation with (anyone may
   * message anyone), with their state if they are friends.
   * @returns {{ id: number, name: string, state: string | null }[]}
   */
  people() {
    const listed = new Map();
    for (const friend of this.friends.values()) listed.set(friend.id, friend);
    for (const key of this.conversations.keys()) {
      const id = Number(key.slice(2));
      if (key.startsWith("u:") && !listed.has(id) && id !== this.me?.id) {
        listed.set(id, {
          id,
          name: this.#names.get(id) ?? `user #${id}`,
          state: null,
        });
      }
    }
    return [...listed.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Forgets everything (logout). */
  loggedOut() {
    this.me = null;
    this.friends = new Map();
    this.groups = new Map();
    this.#forgetAll();
    this.#names = new Map();
  }

  /** The conversation a chat object belongs to, from this user's side. */
  keyOf(/** @type {Chat} */ chat) {
    if (chat.groupid !== undefined) return groupKey(chat.groupid);
    const other = chat.id === this.me?.id ? chat.toid : chat.id;
    return userKey(/** @type {number} */ (other));
  }

  /** @returns {Conversation} */
  conversation(/** @type {string} */ key) {
    let found = this.conversations.get(key);
    if (!found) {
      found = {
        key,
        messages: [],
        unread: 0,
        oldestMid: null,
        historyDone: false,
      };
      this.conversations.set(key, found);
    }
    return found;
  }

  /**
   * Adds a live message (a push, the login backlog, or the user's own message once its ACK
   * came). Returns the conversation's key if it is new, null if its mid was already there.
   */
  received(/** @type {Chat} */ chat) {
    if (this.#mids.has(chat.mid)) return null;
    this.#learnName(chat.id, chat.name);
    const key = this.keyOf(chat);
    const conversation = this.conversation(key);
    this.#insert(conversation, [chat]);
    if (key !== this.open && chat.id !== this.me?.id) conversation.unread++;
    return key;
  }

  /**
   * Adds a page of history (older messages, oldest first). `last` says there is nothing older:
   * the page came back shorter than asked for (an empty page always means that).
   */
  history(
    /** @type {string} */ key,
    /** @type {Chat[]} */ page,
    last = page.length === 0,
  ) {
    const conversation = this.conversation(key);
    if (last) conversation.historyDone = true;
    this.#insert(
      conversation,
      page.filter((chat) => !this.#mids.has(chat.mid)),
    );
    const oldest = page[0]?.mid;
    if (oldest !== undefined) {
      conversation.oldestMid = Math.min(
        conversation.oldestMid ?? oldest,
        oldest,
      );
    }
  }

  /** The `before` of the next history page: the oldest mid held, or null for the newest. */
  historyCursor(/** @type {string} */ key) {
    const conversation = this.conversation(key);
    const held = conversation.messages[0]?.mid;
    if (held === undefined) return conversation.oldestMid;
    return conversation.oldestMid === null ? held : Math.min(held, conversation.oldestMid);
  }

  /** Opens a conversation: its messages count as read. */
  openConversation(/** @type {string} */ key) {
    this.open = key;
    this.conversation(key).unread = 0;
  }

  /** A friend's cluster-wide state changed (PRESENCE, msgid 17): friends and group members. */
  presence(/** @type {{ id: number, name: string, state: string }} */ change) {
    const friend = this.friends.get(change.id);
    if (friend) this.friends.set(change.id, { ...friend, state: change.state });
    for (const group of this.groups.values()) {
      group.users = group.users.map((user) =>
        user.id === change.id ? { ...user, state: change.state } : user
      );
    }
  }

  /** A roster event (ROSTER, msgid 18). Unknown events are ignored. */
  roster(/** @type {Record<string, any>} */ event) {
    switch (event.event) {
      case "friend_added":
        this.addFriend(event.friend);
        break;
      case "friend_removed":
        this.removeFriend(event.id);
        break;
      case "member_joined": {
        const group = this.groups.get(event.groupid);
        this.#names.set(event.user.id, event.user.name);
        if (group && !group.users.some((user) => user.id === event.user.id)) {
          group.users = [...group.users, event.user].sort((a, b) => a.id - b.id);
        }
        break;
      }
      case "member_left": {
        const group = this.groups.get(event.groupid);
        if (!group) break;
        group.users = group.users
          .filter((user) => user.id !== event.id)
          // When the creator left, the member who joined earliest became the creator.
          .map((user) => user.id === event.creator ? { ...user, role: "creator" } : user);
        break;
      }
    }
  }

  /**
   * Adds a friend the user added (ADD_FRIEND answered errno 0). A server whose reply does not
   * carry the friend gives only the id: the name is the one met, if any, until a message or the
   * next login tells it.
   */
  addFriend(/** @type {Friend | { id: number }} */ friend) {
    if ("name" in friend) {
      this.friends.set(friend.id, friend);
      this.#names.set(friend.id, friend.name);
      return;
    }
    const name = this.#names.get(friend.id) ?? `user #${friend.id}`;
    this.friends.set(friend.id, { id: friend.id, name, state: "unknown" });
  }

  /** Adds a group the user created or joined. */
  addGroup(/** @type {Group} */ group) {
    this.groups.set(group.id, group);
  }

  /**
   * Forgets a friend, with the conversation (closed if open): the user removed them
   * (REMOVE_FRIEND answered errno 0) or they removed the user (ROSTER `friend_removed`). A later
   * message from them lists them again, as not a friend, and their history can be read again.
   */
  removeFriend(/** @type {number} */ id) {
    this.friends.delete(id);
    this.#forgetConversation(userKey(id));
  }

  /** Forgets a group the user left (LEAVE_GROUP answered errno 0), with its conversation. */
  leaveGroup(/** @type {number} */ id) {
    this.groups.delete(id);
    this.#forgetConversation(groupKey(id));
  }

  /** Total unread messages, for the title. */
  get unread() {
    let total = 0;
    for (const conversation of this.conversations.values()) {
      total += conversation.unread;
    }
    return total;
  }

  /** Inserts messages in mid order, keeping at most MESSAGES_KEPT (the newest). */
  #insert(
    /** @type {Conversation} */ conversation,
    /** @type {Chat[]} */ chats,
  ) {
    if (chats.length === 0) return;
    for (const chat of chats) this.#mids.add(chat.mid);
    const messages = conversation.messages;
    messages.push(...chats);
    messages.sort((a, b) => a.mid - b.mid);
    if (messages.length > MESSAGES_KEPT) {
      const dropped = messages.splice(0, messages.length - MESSAGES_KEPT);
      for (const chat of dropped) this.#mids.delete(chat.mid);
      conversation.oldestMid = messages[0].mid;
      conversation.historyDone = false;
    }
  }

  /** Remembers a sender's name; a friend known only by id gets it. */
  #learnName(/** @type {number} */ id, /** @type {string} */ name) {
    this.#names.set(id, name);
    const friend = this.friends.get(id);
    if (friend && friend.name !== name) {
      this.friends.set(id, { ...friend, name });
    }
  }

  #forgetConversation(/** @type {string} */ key) {
    for (const chat of this.conversations.get(key)?.messages ?? []) this.#mids.delete(chat.mid);
    this.conversations.delete(key);
    if (this.open === key) this.open = null;
  }

  #forgetAll() {
    this.conversations = new Map();
    this.#mids = new Set();
    this.open = null;
  }
}
