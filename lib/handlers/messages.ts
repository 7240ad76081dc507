// Extensions around delivered messages: receipts (the client has a push), history of a
// conversation, and ping (the connection is alive).

import { ChatError, Errno } from "../errors.ts";
import { Limits, MsgId } from "../protocol.ts";
import { idField, isMid, midField } from "../validate.ts";
import { pushOf } from "../push.ts";
import type { Handler } from "./context.ts";
import { requireUser } from "./context.ts";

const DEFAULT_HISTORY_LIMIT = 20;

export const receipt: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const mids = request.mids;
  if (
    !Array.isArray(mids) || mids.length < 1 || mids.length > Limits.receiptMids ||
    !mids.every(isMid)
  ) {
    throw new ChatError(
      Errno.BAD_REQUEST,
      `bad request: 'mids' must be a list of 1 to ${Limits.receiptMids} message ids`,
    );
  }
  // Pushes taken on the delivery cursor are confirmed in memory; the rest are pending rows.
  const pending = deps.delivery.confirm(session, mids);
  if (pending.length > 0) await deps.store.messages.acknowledge(user.id, pending);
  return {};
};

export const history: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const hasPeer = request.peer !== undefined;
  if (hasPeer === (request.groupid !== undefined)) {
    throw new ChatError(Errno.BAD_REQUEST, "bad request: history needs 'peer' or 'groupid'");
  }
  const peerId = hasPeer ? idField(request, "peer") : null;
  const groupId = hasPeer ? null : idField(request, "groupid");
  const beforeMid = request.before === undefined ? null : midField(request, "before");
  const limit = request.limit === undefined ? DEFAULT_HISTORY_LIMIT : idField(request, "limit");
  if (limit > Limits.historyMax) {
    throw new ChatError(Errno.BAD_REQUEST, `bad request: 'limit' is at most ${Limits.historyMax}`);
  }
  if (groupId !== null) {
    if (!await deps.store.groups.findById(groupId)) {
      throw new ChatError(Errno.NOT_FOUND, `no group with id ${groupId}`);
    }
    if (!await deps.store.groups.isMember(groupId, user.id)) {
      throw new ChatError(Errno.CONFLICT, `you are not a member of group ${groupId}`);
    }
  } else if (!await deps.store.users.findById(peerId!)) {
    throw new ChatError(Errno.NOT_FOUND, `no user with id ${peerId}`);
  }
  const page = await deps.store.messages.history({
    userId: user.id,
    peerId,
    groupId,
    beforeMid,
    limit,
  });
  return { body: { messages: page.map(pushOf) } };
};

export const ping: Handler = () => Promise.resolve({});

export const messageHandlers = {
  [MsgId.RECEIPT]: receipt,
  [MsgId.HISTORY]: history,
  [MsgId.PING]: ping,
};
