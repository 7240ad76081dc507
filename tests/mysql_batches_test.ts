// batches() (lib/store/mysql_support.ts): how the MySQL store splits multi-row statements.

import assert from "node:assert/strict";
import { batches } from "../lib/store/mysql_support.ts";

const sizesOf = (count: number) =>
  [...batches(Array.from({ length: count }, (_, index) => index))].map((batch) => batch.length);

Deno.test("mysql batches: up to 64 rows take at most two statements, in order", () => {
  for (let count = 1; count <= 64; count++) {
    const items = Array.from({ length: count }, (_, index) => index);
    const split = [...batches(items)];
    assert.ok(split.length <= 2, `${count} rows in ${split.length} statements`);
    assert.deepEqual(split.flat(), items, `${count} rows keep their order`);
  }
  assert.deepEqual(sizesOf(27), [24, 3]);
  assert.deepEqual(sizesOf(7), [7]);
  assert.deepEqual(sizesOf(64), [64]);
  assert.deepEqual(sizesOf(150), [64, 64, 16, 6]);
  assert.deepEqual(sizesOf(0), []);
});

Deno.test("mysql batches: row counts stay within 15 statement shapes", () => {
  const shapes = new Set<number>();
  for (let count = 1; count <= 300; count++) for (const size of sizesOf(count)) shapes.add(size);
  assert.deepEqual(
    [...shapes].sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 40, 48, 56, 64],
  );
});
