/**
 * Micro-benchmarks of the request path's building blocks. The orchestrator (run.ts) runs this
 * file with `deno bench --json`; by hand (no permissions needed: the store is in memory):
 *
 *   deno bench tests/bench/micro_bench.ts
 */
import { KeyRing } from "../../src/auth/keys.ts";
import { MIN_PBKDF2_ITERATIONS, PasswordHasher } from "../../src/auth/passwords.ts";
import { type TokenOptions, TokenService } from "../../src/auth/tokens.ts";
import type { RequestContext } from "../../src/http/context.ts";
import { createRouter, route } from "../../src/router.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

const store = await SqliteStore.open(":memory:");
const keys = await KeyRing.open(store); // ES256, as in production; no refresh timer
const tokenOptions: TokenOptions = {
  issuer: "https://localhost:8443",
  audience: "https://localhost:8443",
  ttlSeconds: 3600,
  leewaySeconds: 30,
  maxTokenBytes: 8192,
};
const tokens = new TokenService(keys, tokenOptions);
const uncached = new TokenService(keys, { ...tokenOptions, cacheSize: 0 });

/** Distinct tokens walked by "verify, first sight": no token is seen twice in a row. */
const FRESH_TOKENS = await Promise.all(
  Array.from({ length: 1000 }, async (_, i) => (await tokens.issue(`user${i}`)).token),
);
let next = 0;
const repeated = (await tokens.issue("user1")).token;
await tokens.verify(repeated);

Deno.bench("token issue (ES256 sign)", { group: "tokens" }, async () => {
  await tokens.issue("user1");
});

Deno.bench("token verify, first sight (cacheSize 0)", { group: "tokens" }, async () => {
  await uncached.verify(FRESH_TOKENS[next++ % FRESH_TOKENS.length]);
});

Deno.bench("token verify, repeat (cached)", { group: "tokens" }, async () => {
  await tokens.verify(repeated);
});

const hasher = new PasswordHasher(MIN_PBKDF2_ITERATIONS);
const storedHash = await hasher.hash("password1");

Deno.bench(
  `password hash (PBKDF2-SHA256, ${MIN_PBKDF2_ITERATIONS} iterations)`,
  { group: "passwords", n: 5, warmup: 1 },
  async () => {
    await hasher.hash("password1");
  },
);

Deno.bench(
  `password verify (PBKDF2-SHA256, ${MIN_PBKDF2_ITERATIONS} iterations)`,
  { group: "passwords", n: 5, warmup: 1 },
  async () => {
    await hasher.verify("password1", storedHash);
  },
);

const answer = new Response(null, { status: 204 });
const dispatch = createRouter([
  route("/login", { POST: () => answer }),
  route("/hello", { GET: () => answer }),
  route("/token", { POST: () => answer }),
  route("/users/:name", { GET: () => answer, DELETE: () => answer }),
  route("/keys/:kid", { GET: () => answer }),
]);
const literalRequest = new Request("https://localhost:8443/hello");
const patternedRequest = new Request("https://localhost:8443/keys/abc123");

function context(): RequestContext {
  return {
    requestId: "bench",
    remoteAddress: "127.0.0.1",
    addressGroup: "127.0.0.1",
    params: {},
    errorDialect: "flask",
    accessLog: true,
  };
}

Deno.bench("router dispatch, literal path (/hello)", { group: "router" }, async () => {
  await dispatch(literalRequest, context());
});

Deno.bench("router dispatch, patterned path (/keys/:kid)", { group: "router" }, async () => {
  await dispatch(patternedRequest, context());
});
