// One-to-one and group chat: check the request, then hand the message to delivery
// (lib/delivery.ts), which stores it and delivers it to every recipient, and answer with its
// mid. An errno 0 ACK means each recipient has the message written to their connection or
// pending: it cannot be lost.

import { ChatError, Errno } from "../errors.ts";
import { Limits, MsgId } from "../protocol.ts";
import { idField, optionalTextField, textField } from "../validate.ts";
import type { ChatDeps, Handler } from "./context.ts";
import { requireUser } from "./context.ts";

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
  const message = await deps.delivery.send({
    senderId: sender.id,
    senderName: sender.name,
    toId: toid,
    groupId: null,
    msg,
    time: deps.now().toISOString(),
    key,
    recipients: [toid],
  });
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
  const message = await deps.delivery.send({
    senderId: sender.id,
    senderName: sender.name,
    toId: null,
    groupId: groupid,
    msg,
    time: deps.now().toISOString(),
    key,
    recipients: members.filter((id) => id !== sender.id),
  });
  return { body: { time: message.time, mid: message.mid } };
};

export const chatHandlers = {
  [MsgId.ONE_CHAT]: oneChat,
  [MsgId.GROUP_CHAT]: groupChat,
};
