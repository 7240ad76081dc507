// Register, login (with a password or a session token), logout, password change, and what
// happens to a session when its connection ends.

import { ChatError, Errno } from "../errors.ts";
import { type Frame, Limits, MsgId } from "../protocol.ts";
import type { Session } from "../session.ts";
import type { UserRecord } from "../store/types.ts";
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
  if (!deps.registrations.take(session.remoteHost)) {
    throw new ChatError(
      Errno.RATE_LIMITED,
      "too many registrations from your address; try again later",
    );
  }
  const passwordHash = await deps.passwords.hash(password, "register", session.signal);
  const id = await deps.store.users.create(name, passwordHash);
  deps.log.info("user registered", { user: id });
  return { body: { id } };
};

/** What a LOGIN proves who it is with. */
type Credential = { password: string } | { token: string };

export const login: Handler = async (session, request, deps) => {
  const credential = credentialOf(request);
  const account = accountKey(request);
  const receipts = request.receipts === true;
  if (session.user) {
    throw new ChatError(
      Errno.ALREADY_ONLINE,
      "this connection is already logged in; log out first",
    );
  }
  // Counted before anything is checked, so concurrent guesses cannot all get in.
  if (!deps.throttle.attempt(account)) {
    throw new ChatError(Errno.RATE_LIMITED, "too many failed logins; wait a minute");
  }
  const user = await findLoginUser(request, deps);
  const redeemed = await checkCredential(session, user, credential, deps);
  if (!user || redeemed === null) {
    deps.metrics?.loginFailed();
    throw new ChatError(Errno.BAD_CREDENTIALS, "wrong id/name or password");
  }
  deps.throttle.succeeded(account);
  if (!await deps.presence.claim(user.id)) {
    throw new ChatError(Errno.ALREADY_ONLINE, "this account is already online");
  }
  session.user = { id: user.id, name: user.name };
  session.receipts = receipts;
  deps.delivery.hold(user.id, session);
  deps.sessions.add(user.id, session);
  deps.roster.begin(session.user, session);
  try {
    const token = "token" in credential
      ? { token: credential.token, hash: redeemed as string }
      : await deps.tokens.issue(user.id);
    session.tokenHash = token.hash;
    const [, view] = await Promise.all([
      deps.roster.takeEpoch(user.id, session),
      loginView(user.id, receipts ? session : null, deps),
    ]);
    const friends = await deps.roster.online(user.id, session, view.friends, view.located);
    deps.metrics?.pendingDropped(view.offline.dropped);
    deps.log.info("user logged in", {
      user: user.id,
      connection: session.connectionId,
      receipts,
      with: "token" in credential ? "token" : "password",
    });
    return {
      body: {
        id: user.id,
        name: user.name,
        node: deps.presence.nodeId,
        token: token.token,
        friends,
        groups: view.groups,
        offlinemsg: view.offline.first,
        offlinemore: view.offline.rest.length,
        offlinedropped: view.offline.dropped,
      },
      afterReply: () => {
        deps.roster.release(user.id, session);
        return sendBacklog(session, view.offline, deps);
      },
    };
  } catch (error) {
    await endSession(session, deps);
    throw error;
  }
};

/**
 * Checks a login's password or token. For a password: true or false, after a full scrypt
 * derivation even when the user is unknown (against a placeholder hash at the same cost, so the
 * answer and its time do not say which accounts exist). For a token: its hash, or null.
 */
async function checkCredential(
  session: Session,
  user: UserRecord | null,
  credential: Credential,
  deps: ChatDeps,
): Promise<string | true | null> {
  if ("token" in credential) {
    // An unknown user's token is looked up too (as user 0, who has none): the same work.
    return await deps.tokens.redeem(user?.id ?? 0, credential.token);
  }
  const stored = user?.passwordHash ?? deps.passwords.placeholder;
  return await deps.passwords.verify(credential.password, stored, session.signal) ? true : null;
}

export const logout: Handler = async (session, _request, deps) => {
  const user = requireUser(session);
  // Revoked first: if the store fails, the user is still logged in and may try again.
  if (session.tokenHash !== null) await deps.tokens.revoke(session.tokenHash);
  await endSession(session, deps);
  deps.log.info("user logged out", { user: user.id, connection: session.connectionId });
  return {};
};

/**
 * CHANGE_PASSWORD {old, new}: a wrong `old` is errno 1 and counts as a failed login. Every
 * session token of the user is revoked; this session gets a fresh one (in the ACK's `token`).
 */
export const changePassword: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const old = textField(request, "old", 1, Limits.passwordMax);
  const replacement = textField(request, "new", 1, Limits.passwordMax);
  const account = `id:${user.id}`;
  if (!deps.throttle.attempt(account)) {
    throw new ChatError(Errno.RATE_LIMITED, "too many failed logins; wait a minute");
  }
  const record = await deps.store.users.findById(user.id);
  const stored = record?.passwordHash ?? deps.passwords.placeholder;
  if (!await deps.passwords.verify(old, stored, session.signal)) {
    deps.metrics?.loginFailed();
    throw new ChatError(Errno.BAD_CREDENTIALS, "wrong password");
  }
  deps.throttle.succeeded(account);
  const passwordHash = await deps.passwords.hash(replacement, "login", session.signal);
  await deps.store.users.changePassword(user.id, passwordHash);
  const token = await deps.tokens.issue(user.id);
  session.tokenHash = token.hash;
  deps.log.info("password changed", { user: user.id, connection: session.connectionId });
  return { body: { token: token.token } };
};

/**
 * Marks the session's user offline (logout or lost connection) and tells their friends. Never
 * throws.
 */
export async function endSession(session: Session, deps: ChatDeps): Promise<void> {
  const user = session.user;
  if (!user) return;
  session.user = null;
  session.receipts = false;
  session.tokenHash = null;
  deps.sessions.remove(user.id, session);
  deps.delivery.release(user.id, session, new Set());
  deps.roster.offline(user.id, session);
  try {
    await deps.presence.release(user.id);
  } catch (error) {
    deps.metrics?.backendError(error);
    deps.warnings.warn("could not release presence now; retrying in the background", {
      user: user.id,
      error,
    });
  }
  // After presence: a store that hangs does not hold the user's next login. One that comes
  // first reads back from the log what this makes pending (lib/delivery_cursor.ts).
  await deps.delivery.closeCursor(session);
}

/** The password or the token of a LOGIN: exactly one of them. */
function credentialOf(request: Frame): Credential {
  const hasToken = request.token !== undefined;
  if (hasToken === (request.password !== undefined)) {
    throw new ChatError(Errno.BAD_REQUEST, "bad request: login needs 'password' or 'token'");
  }
  return hasToken
    ? { token: textField(request, "token", 1, Limits.tokenMax) }
    : { password: textField(request, "password", 1, Limits.passwordMax) };
}

/** What a login names, for throttling: the id or the name as given. */
function accountKey(request: Frame): string {
  if (request.id !== undefined) return `id:${idField(request, "id")}`;
  if (request.name !== undefined) {
    return `name:${textField(request, "name", 1, Limits.nameMax)}`;
  }
  throw new ChatError(Errno.BAD_REQUEST, "bad request: login needs 'id' or 'name'");
}

function findLoginUser(request: Frame, deps: ChatDeps) {
  return request.id !== undefined
    ? deps.store.users.findById(request.id as number)
    : deps.store.users.findByName(request.name as string);
}

export const accountHandlers = {
  [MsgId.REGISTER]: register,
  [MsgId.LOGIN]: login,
  [MsgId.LOGOUT]: logout,
  [MsgId.CHANGE_PASSWORD]: changePassword,
};
