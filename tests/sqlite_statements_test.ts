/**
 * @module
 * The prepared statements a SQLite connection keeps (src/store/sqlite/database.ts): each connection
 * reads its own rows, a kept statement binds only its own call's values and sees columns added
 * after it was prepared, more query texts than the cache holds all still answer, and a query that
 * fails to prepare fails every time without harming the others.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { all, change, one } from "../src/store/sqlite/database.ts";

/** More distinct query texts than one connection keeps prepared. */
const MANY_TEXTS = 300;

function withTable(value: string): DatabaseSync {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE t (name TEXT)");
  change(db, "INSERT INTO t (name) VALUES (?)", value);
  return db;
}

Deno.test("the same query text on two connections reads each connection's own rows", () => {
  const first = withTable("first");
  const second = withTable("second");
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal(one(first, "SELECT name FROM t")?.name, "first");
      assert.equal(one(second, "SELECT name FROM t")?.name, "second");
    }
  } finally {
    first.close();
    second.close();
  }
});

Deno.test("a kept statement binds only the values of its own call", () => {
  const db = withTable("a");
  try {
    change(db, "INSERT INTO t (name) VALUES (?)", "b");
    assert.deepEqual(all(db, "SELECT name FROM t WHERE name = ?", "b").map((row) => row.name), [
      "b",
    ]);
    assert.deepEqual(all(db, "SELECT name FROM t WHERE name = ?", "a").map((row) => row.name), [
      "a",
    ]);
    assert.equal(one(db, "SELECT name FROM t WHERE name = ?", "c"), undefined);
    assert.equal(change(db, "DELETE FROM t WHERE name = ?", "c"), 0);
    assert.equal(change(db, "DELETE FROM t WHERE name = ?", "a"), 1);
    assert.equal(one(db, "SELECT count(*) AS n FROM t")?.n, 1);
  } finally {
    db.close();
  }
});

Deno.test("more query texts than a connection keeps all answer, the first ones again too", () => {
  const db = new DatabaseSync(":memory:");
  try {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MANY_TEXTS; i++) {
        assert.equal(one(db, `SELECT ? + ${i} AS n`, round)?.n, round + i);
      }
    }
  } finally {
    db.close();
  }
});

Deno.test("a kept statement sees a column added after it was prepared", () => {
  const db = withTable("a");
  try {
    assert.deepEqual(Object.keys(one(db, "SELECT * FROM t")!), ["name"]);
    db.exec("ALTER TABLE t ADD COLUMN added INTEGER DEFAULT 7");
    assert.deepEqual({ ...one(db, "SELECT * FROM t") }, { name: "a", added: 7 });
  } finally {
    db.close();
  }
});

Deno.test("a query that fails to prepare fails every time and leaves the others working", () => {
  const db = withTable("a");
  try {
    for (let i = 0; i < 2; i++) {
      assert.throws(() => one(db, "SELECT name FROM missing"), /no such table/);
    }
    assert.equal(one(db, "SELECT name FROM t")?.name, "a");
  } finally {
    db.close();
  }
});
