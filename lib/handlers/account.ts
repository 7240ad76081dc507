// Register, login, logout, and what happens to a session when its connection ends.

import { ChatError, Errno } from "../errors.ts";
import { Limits, MsgId } from "../protocol.ts";
import type { Session } from "../session.ts";
import { idField, textField } from "../validate.ts";
import { sendBacklog } from "./backlog.ts";
import type { ChatDeps, Handler } from "./context.ts";
import { requireUser } from "./context.ts";
import { loginView } from "./login_view.ts";

// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

export const register: Handler = async (session, request, deps) => {
  const name = textField(request, "name", 1, Limits.nameMax);
  const password = textField(request, "password", 1, Limits.passwordMax);
  if (CONTROL_CHARACTERS.test(name)) {
    throw new ChatError(
      Errno.BAD_REQUEST,
      "bad request: 'name' must not contain control characters",
    );
  }
  if (/^\d+$/.test(name)) {
    throw new ChatError(Errno.BAD_REQUEST, "bad request: 'name' must not be only digits");
  }
  const passwordHash = await deps.passwords.hash(password, session.signal);
  const id = await deps.store.users.create(name, passwordHash);
  deps.log.info("user registered", { user: id });
  return { body: { id } };
};

export const login: Handler = async (session, request, deps) => {
  const password = textField(request, "password", 1, Limits.passwordMax);
  const account = accountKey(request);
  const receipts = request.receipts === true;
  if (session.user) {
    throw new ChatError(
      Errno.ALREADY_ONLINE,
      "this connection is already logged in; log out first",
    );
  }
  if (!deps.throttle.allows(account)) {
    throw new ChatError(Errno.RATE_LIMITED, "too many failed logins; wait a minute");
  }
  const user = await findLoginUser(request, deps);
  // Verify against a real hash even for unknown users, so timing does not reveal them.
  const valid = await deps.passwords.verify(
    password,
    user?.passwordHash ?? await dummyHash(deps),
    session.signal,
  );
  if (!user || !valid) {
    deps.throttle.recordFailure(account);
    deps.metrics?.loginFailed();
    throw new ChatError(Errno.BAD_CREDENTIALS, "wrong id/name or password");
  }
  deps.throttle.recordSuccess(account);
  if (!await deps.presence.claim(user.id)) {
    throw new ChatError(Errno.ALREADY_ONLINE, "this account is already online");
  }
  session.user = { id: user.id, name: user.name };
  session.receipts = receipts;
  deps.delivery.hold(user.id, session);
  deps.sessions.add(user.id, session);
  try {
    const view = await loginView(user.id, deps);
    deps.metrics?.pendingDropped(view.offline.dropped);
    deps.log.info("user logged in", { user: user.id, connection: session.connectionId, receipts });
    return {
      body: {
        id: user.id,
        name: user.name,
        node: deps.presence.nodeId,
        friends: view.friends,
        groups: view.groups,
        offlinemsg: view.offline.first,
        offlinemore: view.offline.rest.length,
        offlinedropped: view.offline.dropped,
      },
      afterReply: () => sendBacklog(session, view.offline, deps),
    };
  } catch (error) {
    await endSession(session, deps);
    throw error;
  }
};

export const logout: Handler = async (session, _request, deps) => {
  const user = requireUser(session);
  await endSession(session, deps);
  deps.log.info("user logged out", { user: user.id, connection: session.connectionId });
  return {};
};

/** Marks the session's user offline (logout or lost connection). Never throws. */
export async function endSession(session: Session, deps: ChatDeps): Promise<void> {
  const user = session.user;
  if (!user) return;
  session.user = null;
  session.receipts = false;
  deps.sessions.remove(user.id, session);
  deps.delivery.release(user.id, session, new Set());
  try {
    await deps.presence.release(user.id);
  } catch (error) {
    deps.metrics?.backendError(error);
    deps.log.warn("could not release presence now; retrying in the background", {
      user: user.id,
      error,
    });
  }
}

/** What a login names, for throttling: the id or the name as given. */
function accountKey(request: Record<string, unknown>): string {
  if (request.id !== undefined) return `id:${idField(request, "id")}`;
  if (request.name !== undefined) {
    return `name:${textField(request, "name", 1, Limits.nameMax)}`;
  }
  throw new ChatError(Errno.BAD_REQUEST, "bad request: login needs 'id' or 'name'");
}

function findLoginUser(request: Record<string, unknown>, deps: ChatDeps) {
  return request.id !== undefined
    ? deps.store.users.findById(request.id as number)
    : deps.store.users.findByName(request.name as string);
}

let dummy: Promise<string> | undefined;
function dummyHash(deps: ChatDeps): Promise<string> {
  return dummy ??= deps.passwords.hash("not a real password");
}

export const accountHandlers = {
  [MsgId.REGISTER]: register,
  [MsgId.LOGIN]: login,
  [MsgId.LOGOUT]: logout,
};
