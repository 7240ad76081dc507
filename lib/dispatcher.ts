// Maps a request's msgid to its handler and turns the outcome, success or thrown error, into
// exactly one response frame carrying the request's seq.

import { CancelledError, ChatError, Errno, ERRNO_TEXT } from "./errors.ts";
import { accountHandlers } from "./handlers/account.ts";
import { chatHandlers } from "./handlers/chat.ts";
import type { ChatDeps, Handler, HandlerResult } from "./handlers/context.ts";
import { messageHandlers } from "./handlers/messages.ts";
import { socialHandlers } from "./handlers/social.ts";
import { type Frame, MsgId } from "./protocol.ts";
import type { Session } from "./session.ts";

interface Route {
  handler: Handler;
  /** msgid of the response frame. */
  reply: number;
}

const ROUTES = new Map<number, Route>([
  [MsgId.LOGIN, { handler: accountHandlers[MsgId.LOGIN], reply: MsgId.LOGIN_ACK }],
  [MsgId.REGISTER, { handler: accountHandlers[MsgId.REGISTER], reply: MsgId.REGISTER_ACK }],
  [MsgId.LOGOUT, { handler: accountHandlers[MsgId.LOGOUT], reply: MsgId.ACK }],
  [
    MsgId.CHANGE_PASSWORD,
    { handler: accountHandlers[MsgId.CHANGE_PASSWORD], reply: MsgId.ACK },
  ],
  [MsgId.ONE_CHAT, { handler: chatHandlers[MsgId.ONE_CHAT], reply: MsgId.ACK }],
  [MsgId.GROUP_CHAT, { handler: chatHandlers[MsgId.GROUP_CHAT], reply: MsgId.ACK }],
  [MsgId.ADD_FRIEND, { handler: socialHandlers[MsgId.ADD_FRIEND], reply: MsgId.ACK }],
  [MsgId.CREATE_GROUP, { handler: socialHandlers[MsgId.CREATE_GROUP], reply: MsgId.ACK }],
  [MsgId.ADD_GROUP, { handler: socialHandlers[MsgId.ADD_GROUP], reply: MsgId.ACK }],
  [MsgId.REMOVE_FRIEND, { handler: socialHandlers[MsgId.REMOVE_FRIEND], reply: MsgId.ACK }],
  [MsgId.LEAVE_GROUP, { handler: socialHandlers[MsgId.LEAVE_GROUP], reply: MsgId.ACK }],
  [MsgId.RECEIPT, { handler: messageHandlers[MsgId.RECEIPT], reply: MsgId.ACK }],
  [MsgId.HISTORY, { handler: messageHandlers[MsgId.HISTORY], reply: MsgId.ACK }],
  [MsgId.PING, { handler: messageHandlers[MsgId.PING], reply: MsgId.ACK }],
]);

/** The msgids this server accepts as requests. */
export const REQUEST_MSGIDS: readonly number[] = [...ROUTES.keys()];

/** An ERROR frame (msgid 12). */
export function errorFrame(errno: number, errmsg: string, seq?: number): Frame {
  return seq === undefined
    ? { msgid: MsgId.ERROR, errno, errmsg }
    : { msgid: MsgId.ERROR, errno, errmsg, seq };
}

/**
 * Handles one decoded request: sends its single response on the session, then runs the
 * handler's follow-up work.
 */
export async function dispatch(session: Session, request: Frame, deps: ChatDeps): Promise<void> {
  const seq = request.seq;
  const validSeq = seq === undefined || Number.isSafeInteger(seq);
  const echo = seq === undefined || !validSeq ? {} : { seq };
  const msgid = request.msgid;
  const route = typeof msgid === "number" ? ROUTES.get(msgid) : undefined;
  // Every frame costs a token, even one answered only with an error.
  if (!session.admit()) {
    const reply = route && validSeq ? route.reply : MsgId.ERROR;
    const errmsg = "rate limited: too many requests; slow down";
    deps.metrics?.rateLimited();
    session.send({ msgid: reply, ...echo, errno: Errno.RATE_LIMITED, errmsg });
    return;
  }
  if (!validSeq) {
    session.send(errorFrame(Errno.BAD_REQUEST, "bad request: 'seq' must be an integer"));
    return;
  }
  if (!route) {
    const errmsg = msgid === undefined
      ? "bad request: 'msgid' is missing"
      : `bad request: unknown msgid ${typeof msgid === "number" ? msgid : JSON.stringify(msgid)}`;
    session.send(errorFrame(Errno.BAD_REQUEST, errmsg, seq as number | undefined));
    return;
  }
  let result: HandlerResult;
  try {
    result = await route.handler(session, request, deps);
  } catch (error) {
    // The connection closed before its work started: nobody to answer, nothing went wrong.
    if (error instanceof CancelledError) return;
    deps.metrics?.backendError(error);
    const failure = error instanceof ChatError
      ? error
      : new ChatError(Errno.SERVER_ERROR, ERRNO_TEXT[Errno.SERVER_ERROR]);
    if (!(error instanceof ChatError) || failure.errno === Errno.SERVER_ERROR) {
      deps.warnings.error("request failed", {
        msgid,
        connection: session.connectionId,
        user: session.user?.id,
        error,
      }, `request failed ${msgid}`);
    }
    session.send({ msgid: route.reply, ...echo, errno: failure.errno, errmsg: failure.message });
    return;
  }
  session.send({ msgid: route.reply, ...echo, errno: Errno.OK, ...result.body });
  if (!result.afterReply || !await session.written()) return;
  try {
    await result.afterReply();
  } catch (error) {
    deps.metrics?.backendError(error);
    deps.log.error("follow-up work failed", { msgid, user: session.user?.id, error });
  }
}
