// Friends and groups: add a friend (mutual), create a group, join a group.

import { ChatError, Errno } from "../errors.ts";
import { Limits, MsgId } from "../protocol.ts";
import { idField, optionalTextField, textField } from "../validate.ts";
import type { Handler } from "./context.ts";
import { requireUser } from "./context.ts";

export const addFriend: Handler = async (session, request, deps) => {
  const user = requireUser(session);
  const friendId = idField(request, "friendid");
  if (friendId === user.id) {
    throw new ChatError(Errno.BAD_REQUEST, "bad request: you cannot add yourself as a friend");
  }
  if (!await deps.store.users.findById(friendId)) {
    throw new ChatError(Errno.NOT_FOUND, `no user with id ${friendId}`);
  }
  await deps.store.friends.add(user.id, friendId);
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
  if (!await deps.store.groups.findById(groupId)) {
    throw new ChatError(Errno.NOT_FOUND, `no group with id ${groupId}`);
  }
  await deps.store.groups.join(groupId, user.id);
  return {};
};

export const socialHandlers = {
  [MsgId.ADD_FRIEND]: addFriend,
  [MsgId.CREATE_GROUP]: createGroup,
  [MsgId.ADD_GROUP]: joinGroup,
};
