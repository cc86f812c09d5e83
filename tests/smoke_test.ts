/**
 * @module
 * The shortest path through the service over real HTTPS: a user logs in and calls /hello with the
 * token.
 */
import assert from "node:assert/strict";
import { hello, login, startTestServer } from "./helpers/server.ts";

Deno.test("a user logs in and calls /hello with the token", async () => {
  await using server = await startTestServer({ users: { user1: "password1" } });
  const { res, body } = await login(server, "user1", "password1");
  assert.equal(res.status, 200);
  const greeting = await hello(server, `Bearer ${body.access_token}`);
  assert.equal(greeting.res.status, 200);
  assert.deepEqual(greeting.body, { message: "Hello, user1! You're authenticated." });
});
