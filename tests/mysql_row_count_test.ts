// lib/store/mysql_support.ts rowCount: what the MySQL store binds to `LIMIT ?` goes to the server
// as an integer type, never as the DOUBLE mysql2 makes of a JavaScript number, which MySQL 8.0.22
// and later reject there (node-mysql2 issue 1239). Needs no server: it checks the bound value.

import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { rowCount } from "../lib/store/mysql_support.ts";

Deno.test("mysql rowCount: a count is bound as a BIGINT (LONGLONG), not a DOUBLE", () => {
  for (const count of [0, 1, 20, 5000, Number.MAX_SAFE_INTEGER]) {
    const bound = rowCount(count);
    assert.equal(bound.type, mysql.Types.LONGLONG, `type of ${count}`);
    assert.notEqual(bound.type, mysql.Types.DOUBLE);
    assert.equal(Number(bound.value), count);
    assert.equal(bound.unsigned, false);
  }
});

Deno.test("mysql rowCount: anything but a non-negative safe integer is refused before it is sent", () => {
  for (const count of [1.5, -1, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
    assert.throws(() => rowCount(count), RangeError, String(count));
  }
});
