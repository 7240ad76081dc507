// Keeps schema.sql (applied by hand with the mysql client) and the schema embedded in the
// server (lib/store/mysql_schema.ts) identical, so the two can never drift apart.

import assert from "node:assert/strict";
import { MYSQL_SCHEMA } from "../lib/store/mysql_schema.ts";

Deno.test("schema.sql and the embedded MySQL schema are identical", async () => {
  const onDisk = await Deno.readTextFile(new URL("../schema.sql", import.meta.url));
  assert.equal(
    MYSQL_SCHEMA,
    onDisk,
    "lib/store/mysql_schema.ts differs from schema.sql: copy schema.sql into MYSQL_SCHEMA",
  );
});
