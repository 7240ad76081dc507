// One-to-one and group chat: validate, store the message, hand it to every recipient, then
// answer with its mid. Before the ACK each recipient either has the message pending in the store
// or, for a v1 session keeping up, has it written to their socket (lib/direct.ts): so an errno 0
// ACK means the message cannot be lost.

import { ChatError, Errno } from "../errors.ts";
import { type ChatPush, Limits, MsgId } from "../protocol.ts";
import type { NewMessage, StoredMessage } from "../store/types.ts";
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

function userExists(deps: ChatDeps, userId: number): Promise<boolean> {
  return deps.knownUsers.exists(userId, async (id) => !!await deps.store.users.findById(id));
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
  const message = await storeAndDeliver({
    senderId: sender.id,
    senderName: sender.name,
    toId: toid,
    groupId: null,
    msg,
    time: deps.now().toISOString(),
    key,
    recipients: [toid],
  }, deps);
  return { body: { time: message.time, mid: message.mid } };
};

export const groupChat: Handler = async (session, request, deps) => {
  const sender = requireUser(session);
  const groupid = idField(request, "groupid");
  const msg = textField(request, "msg", 1, Limits.msgMax);
  const key = idempotencyKey(request);
  const members = await deps.store.groups.memberIds(groupid);
  // A group whose last member left has no members but still exists.
  if (members.length === 0 && !await deps.store.groups.findById(groupid)) {
    throw new ChatError(Errno.NOT_FOUND, `no group with id ${groupid}`);
  }
  if (!members.includes(sender.id)) {
    throw new ChatError(Errno.CONFLICT, `you are not a member of group ${groupid}`);
  }
  const recipients = members.filter((id) => id !== sender.id);
  const message = await storeAndDeliver({
    senderId: sender.id,
    senderName: sender.name,
    toId: null,
    groupId: groupid,
    msg,
    time: deps.now().toISOString(),
    key,
    recipients,
  }, deps);
  return { body: { time: message.time, mid: message.mid } };
};

/**
 * Stores the message, pending for the recipients who cannot take it directly, and hands it to
 * every recipient (see the header). Returns the stored message.
 *
 * A retried request (a key used before) stores nothing and hands the earlier message again to
 * that message's own recipients, whatever the retry named: those who cannot take it directly
 * have it made pending again (a crash may have come between the store and the direct writes),
 * so it may come once more at their next login; recipients drop it by mid if they have it.
 */
async function storeAndDeliver(newMessage: NewMessage, deps: ChatDeps): Promise<StoredMessage> {
  const { delivery, store } = deps;
  let routes = await delivery.direct.route(newMessage.recipients);
  const { message, duplicate } = await store.messages.append({
    ...newMessage,
    recipients: routes.stored,
  });
  if (!duplicate) {
    deps.metrics?.messageStored();
  } else {
    routes = await delivery.direct.route(await recipientsOf(message, deps));
    await store.messages.addPending(message.mid, routes.stored);
  }
  const push = pushOf(message);
  const direct = delivery.direct.send(
    routes,
    push,
    (userIds) => store.messages.addPending(message.mid, userIds),
  );
  if (routes.stored.length === 0) await direct;
  else await Promise.all([direct, delivery.deliver(routes.stored, push)]);
  return message;
}

/** Who a stored message is for: its recipient, or the other members of its group now. */
async function recipientsOf(message: StoredMessage, deps: ChatDeps): Promise<number[]> {
  if (message.groupId === null) return message.toId === null ? [] : [message.toId];
  const members = await deps.store.groups.memberIds(message.groupId);
  return members.filter((id) => id !== message.senderId);
}

export const chatHandlers = {
  [MsgId.ONE_CHAT]: oneChat,
  [MsgId.GROUP_CHAT]: groupChat,
};
