/**
 * @module
 * The DPoP example of src/auth/tokens/README.md: the README shows the very file the tests
 * type-check, and it works against the real server over HTTPS.
 */
import assert from "node:assert/strict";
import { helloWithDpop } from "./dpop_example.ts";
import { startTestServer } from "./helpers/server.ts";

Deno.test("the README's DPoP example gets a DPoP-bound token and greets the user with it", async () => {
  await using server = await startTestServer({ users: { user1: "password1" } });
  const answer = await helloWithDpop(
    server.url,
    { username: "user1", password: "password1" },
    server.client,
  );
  assert.deepEqual(answer, { message: "Hello, user1! You're authenticated." });
});

Deno.test("src/auth/tokens/README.md shows tests/dpop_example.ts as it is", async () => {
  const readme = await Deno.readTextFile(new URL("../src/auth/tokens/README.md", import.meta.url));
  const marker = "<!-- tests/dpop_example.ts -->";
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, marker);
  const block = /^\s*```ts\n([\s\S]*?)```$/m.exec(readme.slice(at + marker.length));
  assert.ok(block, "a ts block follows the marker");
  const file = await Deno.readTextFile(new URL("./dpop_example.ts", import.meta.url));
  assert.equal(block[1], file.slice(file.indexOf("*/\n") + 3));
});
