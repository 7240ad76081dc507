// One-to-one and group chat: validate, store durably for every recipient (so an errno 0 ACK
// means the message cannot be lost), answer with its mid, then push it to whoever is online.

import { ChatError, Errno } from "../errors.ts";
import { type ChatPush, Limits, MsgId } from "../protocol.ts";
import type { StoredMessage } from "../store/types.ts";
import { idField, optionalTextField, textField } from "../validate.ts";
import type { ChatDeps, Handler } from "./context.ts";
import { requireUser } from "./context.ts";

/** The push frame of a stored message. */
export function pushOf(message: StoredMessage): ChatPush {
  const sender = { id: message.senderId, name: message.senderName };
  return message.groupId === null
    ? {
      msgid: MsgId.ONE_CHAT,
      mid: message.mid,
      ...sender,
      toid: message.toId ?? 0,
      msg: message.msg,
      time: message.time,
    }
    : {
      msgid: MsgId.GROUP_CHAT,
      mid: message.mid,
      ...sender,
      groupid: message.groupId,
      msg: message.msg,
      time: message.time,
    };
}

/** Ids of users known to exist; users are never deleted, so this is safe to cache. */
const knownUsers = new WeakMap<ChatDeps["store"], Set<number>>();

async function userExists(deps: ChatDeps, userId: number): Promise<boolean> {
  let known = knownUsers.get(deps.store);
  if (!known) knownUsers.set(deps.store, known = new Set());
  if (known.has(userId)) return true;
  if (!await deps.store.users.findById(userId)) return false;
  known.add(userId);
  return true;
}

function idempotencyKey(request: Record<string, unknown>): string | null {
  const key = optionalTextField(request, "key", Limits.keyMax, "");
  return key === "" ? null : key;
}

export const oneChat: Handler = async (session, request, deps) => {
  const sender = requireUser(session);
  const toid = idField(request, "toid");
  const msg = textField(request, "msg", 1, Limits.msgMax);
  const key = idempotencyKey(request);
  if (!await userExists(deps, toid)) {
    throw new ChatError(Errno.NOT_FOUND, `no user with id ${toid}`);
  }
  const { message, duplicate } = await deps.store.messages.append({
    senderId: sender.id,
    senderName: sender.name,
    toId: toid,
    groupId: null,
    msg,
    time: deps.now().toISOString(),
    key,
    recipients: [toid],
  });
  await deliverStored(message, duplicate, [toid], deps);
  return { body: { time: message.time, mid: message.mid } };
};

export const groupChat: Handler = async (session, request, deps) => {
  const sender = requireUser(session);
  const groupid = idField(request, "groupid");
  const msg = textField(request, "msg", 1, Limits.msgMax);
  const key = idempotencyKey(request);
  const members = await deps.store.groups.memberIds(groupid);
  if (members.length === 0) throw new ChatError(Errno.NOT_FOUND, `no group with id ${groupid}`);
  if (!members.includes(sender.id)) {
    throw new ChatError(Errno.CONFLICT, `you are not a member of group ${groupid}`);
  }
  const recipients = members.filter((id) => id !== sender.id);
  const { message, duplicate } = await deps.store.messages.append({
    senderId: sender.id,
    senderName: sender.name,
    toId: null,
    groupId: groupid,
    msg,
    time: deps.now().toISOString(),
    key,
    recipients,
  });
  await deliverStored(message, duplicate, recipients, deps);
  return { body: { time: message.time, mid: message.mid } };
};

/**
 * Pushes a stored message to its recipients. A retried request (a key used before) pushes the
 * earlier message again, to that message's own recipients, whatever the retry named: a lost
 * push then arrives now rather than at the next login, and recipients drop it by mid if they
 * have it.
 */
async function deliverStored(
  message: StoredMessage,
  duplicate: boolean,
  recipients: number[],
  deps: ChatDeps,
): Promise<void> {
  if (!duplicate) {
    deps.metrics?.messageStored();
  } else if (message.groupId !== null) {
    const members = await deps.store.groups.memberIds(message.groupId);
    recipients = members.filter((id) => id !== message.senderId);
  } else {
    recipients = message.toId === null ? [] : [message.toId];
  }
  await deps.delivery.deliver(recipients, pushOf(message));
}

export const chatHandlers = {
  [MsgId.ONE_CHAT]: oneChat,
  [MsgId.GROUP_CHAT]: groupChat,
};
