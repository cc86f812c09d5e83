/**
 * @module
 * Micro-benchmarks of the request path's building blocks. The orchestrator (run.ts) runs this
 * file with `deno bench --json`; by hand (no permissions needed: the store is in memory):
 *
 *   deno bench tests/bench/micro_bench.ts
 */
import { SIGNING_ALGS, SigningKeys } from "../../src/auth/tokens/signing_keys.ts";
import { MIN_PBKDF2_ITERATIONS, Passwords } from "../../src/auth/accounts/passwords.ts";
import { InvalidTokenBudget } from "../../src/auth/tokens/invalid_token_budget.ts";
import { type AccessTokenOptions, AccessTokens } from "../../src/auth/tokens/access_tokens.ts";
import { createRouter, route } from "../../src/router.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { DpopNonces } from "../../src/auth/tokens/dpop_nonces.ts";
import { DpopProofs } from "../../src/auth/tokens/dpop_proofs.ts";
import { DpopReplays } from "../../src/auth/tokens/dpop_replays.ts";
import { DpopKey } from "../helpers/dpop.ts";
import { requestContext } from "../helpers/request_context.ts";

const tokenOptions: AccessTokenOptions = {
  issuer: "https://localhost:8443",
  audience: "https://localhost:8443",
  ttlSeconds: 3600,
  leewaySeconds: 30,
  maxTokenBytes: 8192,
};

// Signing and first-sight verification for each JWT_ALG: what a token never seen before costs,
// hence what the invalid-token budget saves per forged token.
for (const alg of SIGNING_ALGS) {
  const store = await SqliteStore.open(":memory:");
  const keys = await SigningKeys.open(store, { alg }); // no refresh timer
  const tokens = new AccessTokens(keys, tokenOptions);
  const uncached = new AccessTokens(keys, { ...tokenOptions, cacheSize: 0 });
  /** Distinct tokens walked by "verify, first sight": no token is seen twice in a row. */
  const fresh = await Promise.all(
    Array.from({ length: 500 }, async (_, i) => (await tokens.issue(`user${i}`)).token),
  );
  let next = 0;
  Deno.bench(`token issue (${alg} sign)`, { group: "tokens" }, async () => {
    await tokens.issue("user1");
  });
  Deno.bench(`token verify, first sight, ${alg} (cacheSize 0)`, { group: "tokens" }, async () => {
    await uncached.verify(fresh[next++ % fresh.length]);
  });
}

const store = await SqliteStore.open(":memory:");
const keys = await SigningKeys.open(store); // ES256, the default
const tokens = new AccessTokens(keys, tokenOptions);
const repeated = (await tokens.issue("user1")).token;
await tokens.verify(repeated);

Deno.bench("token verify, repeat (cached)", { group: "tokens" }, async () => {
  await tokens.verify(repeated);
});

const budget = new InvalidTokenBudget({ perMinute: 30, maxTrackedAddresses: 10_000 });
for (let i = 0; i < 30; i++) budget.take("192.0.2.1");
Deno.bench("invalid-token budget: refuse a spent address", { group: "tokens" }, () => {
  try {
    budget.take("192.0.2.1");
  } catch {
    // AuthFailure("throttled"), as every request from that address gets.
  }
});
Deno.bench("invalid-token budget: charge and refund (IPv6 /64)", { group: "tokens" }, () => {
  budget.take("2001:db8:1:2:3:4:5:6")();
});

const hasher = new Passwords(MIN_PBKDF2_ITERATIONS);
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

Deno.bench("router dispatch, literal path (/hello)", { group: "router" }, async () => {
  await dispatch(literalRequest, requestContext("bench"));
});

Deno.bench("router dispatch, patterned path (/keys/:kid)", { group: "router" }, async () => {
  await dispatch(patternedRequest, requestContext("bench"));
});

// A DPoP proof's check at a resource (signature with the embedded key, claims, `ath`, thumbprint),
// for each proof algorithm; the replay cache's store is left out here (see part (k)).
const acceptAll = { recordDpopProof: () => Promise.resolve(true) };
const dpop = new DpopProofs(
  { replays: new DpopReplays(acceptAll, 0), nonces: await DpopNonces.open(store) },
  { publicUrl: "https://localhost:8443", windowSeconds: 3600 },
);
for (const alg of ["ES256", "EdDSA"] as const) {
  const key = await DpopKey.generate(alg);
  const proofs = await Promise.all(
    Array.from(
      { length: 500 },
      () => key.proof("GET", "https://localhost:8443/hello", { accessToken: repeated }),
    ),
  );
  let nextProof = 0;
  Deno.bench(`DPoP proof check at /hello, ${alg}`, { group: "dpop" }, async () => {
    await dpop.verify(proofs[nextProof++ % proofs.length], {
      method: "GET",
      path: "/hello",
      accessToken: repeated,
    });
  });
}
