// Where a message from the bus goes: roster updates to the roster, the rest to chat delivery.

import type { BusMessage } from "../cluster/types.ts";
import type { ChatDeps } from "../handlers/context.ts";

export function routeBusMessage(message: BusMessage, deps: ChatDeps): void {
  if ("event" in message) deps.roster.receive(message);
  else deps.delivery.receive(message);
}
