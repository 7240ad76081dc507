// How bus messages travel as text: one message as its JSON object, several published together as
// `{"batch": [message, ...]}`. Every bus uses it (the in-process one too, so the codec that runs
// on Redis is the one the in-process tests exercise); decoding checks each message's shape, and
// reports what is not a bus message as undefined in its place rather than throwing.

import type { BusMessage, DirectReport, RosterEnvelope } from "./types.ts";

/** The text of one publish carrying `messages` (at least one), in order. */
export function encodeBusMessages(messages: readonly BusMessage[]): string {
  if (messages.length === 0) throw new RangeError("Cannot encode an empty bus batch");
  return JSON.stringify(messages.length === 1 ? messages[0] : { batch: messages });
}

/**
 * The bus messages in one published text, in order: one, or those of a batch; undefined for
 * each that is not one (text that is not JSON, or a batch that is not a list, counts as one
 * malformed message).
 */
export function decodeBusMessages(text: string): Array<BusMessage | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [undefined];
  }
  if (isObject(value) && "batch" in value) {
    return Array.isArray(value.batch) ? value.batch.map(busMessageOf) : [undefined];
  }
  return [busMessageOf(value)];
}

/** The bus message `value` is, or undefined when it is not one. */
function busMessageOf(value: unknown): BusMessage | undefined {
  if (!isObject(value)) return undefined;
  // `sentAt` (publish time, epoch ms) lets the receiver measure the bus's lag.
  const sentAt = typeof value.sentAt === "number" ? { sentAt: value.sentAt } : {};
  if (Array.isArray(value.reports)) {
    if (!value.reports.every(isReport)) return undefined;
    const reports = value.reports.map(({ ticket, taken, declined }) =>
      declined === undefined ? { ticket, taken } : { ticket, taken, declined }
    );
    return { reports, ...sentAt };
  }
  if (isObject(value.event) && isIdList(value.to)) {
    return rosterEnvelopeOf(value.to, value.event, value.subject, sentAt);
  }
  if (!isObject(value.push) || !isIdList(value.to)) return undefined;
  const reply = value.reply;
  if (reply === undefined) return { to: value.to, push: value.push, ...sentAt };
  if (!isObject(reply) || typeof reply.node !== "string" || !Number.isSafeInteger(reply.ticket)) {
    return undefined;
  }
  return {
    to: value.to,
    push: value.push,
    reply: { node: reply.node, ticket: reply.ticket as number },
    ...sentAt,
  };
}

function rosterEnvelopeOf(
  to: number[],
  event: Record<string, unknown>,
  subject: unknown,
  sentAt: { sentAt?: number },
): RosterEnvelope | undefined {
  if (subject === undefined) return { to, event, ...sentAt };
  if (
    !isObject(subject) || typeof subject.node !== "string" || !Number.isSafeInteger(subject.epoch)
  ) {
    return undefined;
  }
  return { to, event, subject: { node: subject.node, epoch: subject.epoch as number }, ...sentAt };
}

function isReport(value: unknown): value is DirectReport {
  return isObject(value) && Number.isSafeInteger(value.ticket) && isIdList(value.taken) &&
    (value.declined === undefined || isIdList(value.declined));
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => Number.isSafeInteger(id));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
