// The push frame of a stored message: what a recipient gets live, in the login backlog, in a
// redelivery sweep, and what a history page lists (protocol.ts: ChatPush).

import { type ChatPush, MsgId } from "./protocol.ts";
import type { StoredMessage } from "./store/types.ts";

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
