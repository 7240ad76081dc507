// Friends and groups: add and remove a friend (both ways), create, join and leave a group. Each
// change is pushed to the other users concerned who are online (lib/roster/roster.ts), and the
// ACK carries what the requester's client needs to show the change at once.

import { ChatError, Errno } from "../errors.ts";
import { type GroupMemberView, Limits, MsgId } from "../protocol.ts";
import { friendAdded, friendRemoved, memberJoined, memberLeft } from "../roster/updates.ts";
import { idField, optionalTextField, textField } from "../validate.ts";
import type { ChatDeps, Handler } from "./context.ts";
import { requireUser } from "./context.ts";

export const addFriend: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const friendId = idField(request, "friendid");
  if (friendId === user.id) {
    throw new ChatError(Errno.BAD_REQUEST, "bad request: you cannot add yourself as a friend");
  }
  const friend = await deps.store.users.findById(friendId);
  if (!friend) throw new ChatError(Errno.NOT_FOUND, `no user with id ${friendId}`);
  await deps.store.friends.add(user.id, friendId);
  const [located, epochs] = await Promise.all([
    whereabouts([friendId], deps),
    deps.presence.epochs([friendId]).catch(() => new Map<number, number>()),
  ]);
  const node = located.get(friendId) ?? null;
  deps.roster.friendAdded(user.id, friend, node, epochs.get(friendId) ?? 0);
  deps.roster.send(located, friendAdded(user), deps.roster.stampOf(user.id));
  const state = node === null ? "offline" : "online";
  return { body: { friend: { id: friend.id, name: friend.name, state } } };
};

export const removeFriend: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const friendId = idField(request, "friendid");
  if (!await deps.store.friends.remove(user.id, friendId)) {
    throw new ChatError(Errno.NOT_FOUND, `user ${friendId} is not your friend`);
  }
  deps.roster.friendRemoved(user.id, friendId);
  deps.roster.send(await whereabouts([friendId], deps), friendRemoved(user.id));
  return {};
};

export const createGroup: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const groupname = textField(request, "groupname", 1, Limits.groupNameMax);
  const groupdesc = optionalTextField(request, "groupdesc", Limits.groupDescMax, "");
  const groupid = await deps.store.groups.create(user.id, groupname, groupdesc);
  return { body: { groupid } };
};

export const joinGroup: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const groupId = idField(request, "groupid");
  const group = await deps.store.groups.findById(groupId);
  if (!group) throw new ChatError(Errno.NOT_FOUND, `no group with id ${groupId}`);
  const role = await deps.store.groups.join(groupId, user.id);
  const members = await deps.store.groups.members(groupId);
  const others = members.filter((member) => member.id !== user.id);
  const located = await whereabouts(others.map((member) => member.id), deps);
  deps.roster.send(located, memberJoined(groupId, { ...user, state: "online", role }));
  const users: GroupMemberView[] = members.map((member) => ({
    ...member,
    state: member.id === user.id || located.has(member.id) ? "online" : "offline",
  }));
  return { body: { group: { ...group, users } } };
};

export const leaveGroup: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const groupId = idField(request, "groupid");
  if (!await deps.store.groups.findById(groupId)) {
    throw new ChatError(Errno.NOT_FOUND, `no group with id ${groupId}`);
  }
  const left = await deps.store.groups.leave(groupId, user.id);
  if (!left) throw new ChatError(Errno.CONFLICT, `you are not a member of group ${groupId}`);
  const remaining = await deps.store.groups.memberIds(groupId).catch(() => []);
  const located = await whereabouts(remaining, deps);
  deps.roster.send(located, memberLeft(groupId, user.id, left.newCreator));
  return {};
};

/**
 * Where the given users are online. A roster update is not worth failing a request that already
 * changed the store: when presence cannot be asked, nobody is told (the next login shows it).
 */
async function whereabouts(userIds: readonly number[], deps: ChatDeps) {
  try {
    return await deps.presence.locate(userIds);
  } catch (error) {
    deps.metrics?.backendError(error);
    deps.warnings.warn("presence lookup failed; a roster update is dropped", { error });
    return new Map<number, string>();
  }
}

export const socialHandlers = {
  [MsgId.ADD_FRIEND]: addFriend,
  [MsgId.CREATE_GROUP]: createGroup,
  [MsgId.ADD_GROUP]: joinGroup,
  [MsgId.REMOVE_FRIEND]: removeFriend,
  [MsgId.LEAVE_GROUP]: leaveGroup,
};
