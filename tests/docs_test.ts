// docs/PROTOCOL.md must keep up with the code: every msgid (MsgId), every request the dispatcher
// routes (REQUEST_MSGIDS), every errno (Errno) and every field limit (Limits) is documented, and
// the page documents no msgid or errno the code does not have. The expectations come from the
// code's constants, so adding one without documenting it fails here.

import assert from "node:assert/strict";
import { REQUEST_MSGIDS } from "../lib/dispatcher.ts";
import { Errno } from "../lib/errors.ts";
import { DEFAULT_MAX_FRAME, Limits, MsgId } from "../lib/protocol.ts";

const PROTOCOL_MD = new URL("../docs/PROTOCOL.md", import.meta.url);
const text = await Deno.readTextFile(PROTOCOL_MD);
const lines = text.split("\n");

/** Table rows as trimmed cells (`| a | b |` -> ["a", "b"]), skipping separator rows. */
const rows: string[][] = lines
  .filter((line) => line.trimStart().startsWith("|"))
  .map((line) => line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim()))
  .filter((cells) => !cells.every((cell) => /^:?-+:?$/.test(cell)));

const headings = lines.filter((line) => /^#{2,4} /.test(line));

/** Rows whose first cell is exactly `number` and that name `constant` (e.g. `MsgId.LOGIN`). */
function rowsFor(number: number, constant: string): string[][] {
  return rows.filter((cells) => cells[0] === String(number) && cells.includes(`\`${constant}\``));
}

/** Rows of the table whose cells name constants of `prefix` (`MsgId.`, `Errno.`). */
function numbersDocumented(prefix: string): number[] {
  return rows
    .filter((cells) => /^\d+$/.test(cells[0]) && cells.some((c) => c.startsWith(`\`${prefix}`)))
    .map((cells) => Number(cells[0]));
}

const msgIdName = new Map<number, string>(Object.entries(MsgId).map(([k, v]) => [v, k]));

Deno.test("docs: every MsgId has a row in the message table and a section of its own", () => {
  for (const [key, value] of Object.entries(MsgId)) {
    const constant = `MsgId.${key}`;
    assert.equal(
      rowsFor(value, constant).length,
      1,
      `docs/PROTOCOL.md: the message table needs one row "| ${value} | ... | \`${constant}\` |"`,
    );
    const heading = headings.find((h) =>
      new RegExp(`^#{2,4} msgid ${value}\\b`).test(h) && h.includes(`\`${constant}\``)
    );
    assert.ok(
      heading,
      `docs/PROTOCOL.md: needs a heading "### msgid ${value}: <NAME> (\`${constant}\`)"`,
    );
  }
});

Deno.test("docs: every routed request is documented as client-to-server", () => {
  assert.ok(REQUEST_MSGIDS.length > 0);
  for (const msgid of REQUEST_MSGIDS) {
    const key = msgIdName.get(msgid);
    assert.ok(key, `the dispatcher routes msgid ${msgid}, which MsgId does not name`);
    const [row] = rowsFor(msgid, `MsgId.${key}`);
    assert.ok(row, `docs/PROTOCOL.md: no message-table row for request msgid ${msgid}`);
    assert.ok(
      row.some((cell) => cell.includes("c→s")),
      `docs/PROTOCOL.md: msgid ${msgid} is a request; its row must say "c→s"`,
    );
    const errnoRow = rows.find((cells) => new RegExp(`^${msgid} [A-Z_]+$`).test(cells[0]));
    assert.ok(errnoRow, `docs/PROTOCOL.md: the "possible errno" table needs a row for ${msgid}`);
  }
});

Deno.test("docs: every Errno has a row in the errno table", () => {
  for (const [key, value] of Object.entries(Errno)) {
    assert.equal(
      rowsFor(value, `Errno.${key}`).length,
      1,
      `docs/PROTOCOL.md: the errno table needs one row "| ${value} | \`Errno.${key}\` | ... |"`,
    );
  }
});

Deno.test("docs: no msgid or errno is documented that the code does not have", () => {
  const msgids = new Set<number>(Object.values(MsgId));
  for (const number of numbersDocumented("MsgId.")) {
    assert.ok(msgids.has(number), `docs/PROTOCOL.md documents msgid ${number}; MsgId has none`);
  }
  const errnos = new Set<number>(Object.values(Errno));
  for (const number of numbersDocumented("Errno.")) {
    assert.ok(errnos.has(number), `docs/PROTOCOL.md documents errno ${number}; Errno has none`);
  }
});

Deno.test("docs: the limits table matches Limits and DEFAULT_MAX_FRAME", () => {
  for (const [key, max] of Object.entries(Limits)) {
    const row = rows.find((cells) => cells.includes(`\`Limits.${key}\``));
    assert.ok(row, `docs/PROTOCOL.md: the limits table needs a row for \`Limits.${key}\``);
    assert.ok(
      row.some((cell) => new RegExp(`\\b\\d+–${max}\\b`).test(cell)),
      `docs/PROTOCOL.md: the row of Limits.${key} must give the range ending at ${max}`,
    );
  }
  const frame = rows.find((cells) => cells.includes("`DEFAULT_MAX_FRAME`"));
  assert.ok(frame?.some((cell) => cell.includes(String(DEFAULT_MAX_FRAME))));
});
