/**
 * @module
 * How a request proves who sent it, below the routes: reading the Authorization header (Bearer,
 * Basic with its secret form-decoded or as sent, malformed), bearer tokens checked for scope and
 * recorded as a user's or a client's, and client authentication by Basic or form parameters against
 * registered confidential and public clients, with two methods at once, repeated parameters and bad
 * Basic refused.
 */
import assert from "node:assert/strict";
import { newClientRecord } from "../src/auth/clients/registration.ts";
import { ClientRegistry } from "../src/auth/clients/registry.ts";
import { AuthFailure } from "../src/auth/errors.ts";
import { SigningKeys } from "../src/auth/tokens/signing_keys.ts";
import { AccessTokens } from "../src/auth/tokens/access_tokens.ts";
import { authenticateBearer, authenticateClient } from "../src/handlers/_authenticate.ts";
import { parseAuthorization } from "../src/http/authorization.ts";
import { readParameters } from "../src/http/form.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { requestContext } from "./helpers/request_context.ts";

const CLIENT_SECRET = "s".repeat(32);

async function tokenService(): Promise<AccessTokens & AsyncDisposable> {
  const store = await SqliteStore.open(":memory:");
  const keys = await SigningKeys.open(store);
  const tokens = new AccessTokens(keys, {
    issuer: "https://issuer.test",
    audience: "https://api.test",
    ttlSeconds: 900,
    leewaySeconds: 30,
    maxTokenBytes: 8192,
  });
  return Object.assign(tokens, {
    async [Symbol.asyncDispose]() {
      keys.close();
      await store.close();
    },
  });
}

function request(authorization?: string): Request {
  return new Request("https://api.test/hello", {
    headers: authorization === undefined ? {} : { authorization },
  });
}

/** A store with a registered confidential client and a registered public one. */
async function registeredClients(): Promise<SqliteStore & AsyncDisposable & { secret: string }> {
  const store = await SqliteStore.open(":memory:");
  const registration = {
    redirectUris: ["https://app.example/cb"],
    postLogoutRedirectUris: [],
    firstParty: true,
  };
  const confidential = await newClientRecord(
    { ...registration, clientId: "registered-conf", public: false },
    ["hello"],
  );
  const open = await newClientRecord(
    { ...registration, clientId: "registered-public", public: true },
    ["hello"],
  );
  await store.addClient(confidential.record);
  await store.addClient(open.record);
  return Object.assign(store, {
    secret: confidential.secret!,
    [Symbol.asyncDispose]: () => store.close(),
  });
}

async function assertFailure(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof AuthFailure, `expected AuthFailure, got ${error}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

Deno.test("parseAuthorization reads Bearer, Basic, malformed and other schemes", () => {
  assert.deepEqual(parseAuthorization(null), { scheme: "none" });
  assert.deepEqual(parseAuthorization("Bearer a.b.c"), { scheme: "bearer", token: "a.b.c" });
  assert.deepEqual(parseAuthorization("bEaReR   a.b.c "), { scheme: "bearer", token: "a.b.c" });
  for (const value of ["Bearer ", "Bearer a b"]) {
    assert.deepEqual(parseAuthorization(value), { scheme: "malformed_bearer" }, value);
  }
  assert.deepEqual(parseAuthorization(`Basic ${btoa("my%20app:p%2Bw+x")}`), {
    scheme: "basic",
    id: "my app",
    secrets: ["p+w x", "p%2Bw+x"],
  });
  assert.deepEqual(parseAuthorization(`Basic ${btoa("no-colon")}`), { scheme: "malformed_basic" });
  assert.deepEqual(parseAuthorization(`Basic ${btoa("a:%zz")}`), {
    scheme: "basic",
    id: "a",
    secrets: ["%zz"],
  });
  for (const value of ["Bearer", "Token abc", "xyz", "Basic !!"]) {
    assert.deepEqual(parseAuthorization(value), { scheme: "other" }, value);
  }
});

Deno.test("parseAuthorization reads a Basic secret form-decoded and as sent, and never a third way", () => {
  const secrets = (text: string) => {
    const parsed = parseAuthorization(`Basic ${new TextEncoder().encode(text).toBase64()}`);
    assert.equal(parsed.scheme, "basic", text);
    return parsed.scheme === "basic" ? parsed.secrets : [];
  };
  // Nothing to decode: one reading.
  assert.deepEqual(secrets("rs:plain-secret_0123"), ["plain-secret_0123"]);
  // A base64 secret as curl -u sends it, and the same form-encoded as RFC 6749 §2.3.1 asks.
  assert.deepEqual(secrets("rs:ab+cd/ef=="), ["ab cd/ef==", "ab+cd/ef=="]);
  assert.deepEqual(secrets("rs:ab%2Bcd%2Fef%3D%3D"), ["ab+cd/ef==", "ab%2Bcd%2Fef%3D%3D"]);
  // Not valid form encoding: only as sent. Encoded twice: decoded once, never twice.
  assert.deepEqual(secrets("rs:100%"), ["100%"]);
  assert.deepEqual(secrets("rs:a%2520b"), ["a%20b", "a%2520b"]);
  // The secret is everything after the first colon.
  assert.deepEqual(secrets("rs:a:b"), ["a:b"]);
});

Deno.test("ClientRegistry accepts either reading of a Basic secret, compares every reading, and no other", async () => {
  const secret = "ab+cd/ef==0123456789abcdef0123456789";
  const clients = new ClientRegistry({ rs: secret }, "first-party");
  const identify = (presented: string | [string] | [string, string]) =>
    clients.identify({ clientId: "rs", secret: presented });
  const accepted = { clientId: "rs", authenticated: true };
  assert.deepEqual(await identify([secret.replaceAll("+", " "), secret]), accepted, "as sent");
  assert.deepEqual(await identify([secret, encodeURIComponent(secret)]), accepted, "form-encoded");
  assert.deepEqual(await identify(secret), accepted, "client_secret_post");
  await assertFailure(identify(["wrong", "also wrong"]), "invalid_client");
  await assertFailure(identify(secret.replaceAll("+", " ")), "invalid_client");
  await assertFailure(identify([encodeURIComponent(secret)]), "invalid_client");
});

Deno.test("authenticateBearer rejects a request without Authorization as missing_token", async () => {
  await using tokens = await tokenService();
  await assertFailure(
    Promise.resolve(authenticateBearer(request(), requestContext(), { tokens })),
    "missing_token",
    /^Missing Authorization Header$/,
  );
});

Deno.test("authenticateBearer rejects a non-Bearer Authorization as invalid_token", async () => {
  await using tokens = await tokenService();
  const { token } = await tokens.issue("alice");
  for (const value of [`Basic ${btoa("alice:pw")}`, token, "Bearer", "Bearer ", `Token ${token}`]) {
    await assertFailure(
      Promise.resolve(authenticateBearer(request(value), requestContext(), { tokens })),
      "invalid_token",
      /Bearer|Malformed/,
    );
  }
});

Deno.test("authenticateBearer accepts a Bearer token, scheme case-insensitive, and names the user", async () => {
  await using tokens = await tokenService();
  const { token } = await tokens.issue("subject-of-alice", { username: "alice", familyId: "f1" });
  for (const value of [`Bearer ${token}`, `bearer ${token}`, `BEARER  ${token}`]) {
    const ctx = requestContext();
    const claims = await authenticateBearer(request(value), ctx, { tokens });
    assert.equal(claims.sub, "subject-of-alice");
    assert.equal(ctx.user, "alice", "recorded by name for the access log");
  }
});

Deno.test("authenticateBearer answers a token seen before without a promise, and still refuses with a rejection", async () => {
  await using tokens = await tokenService();
  const { token } = await tokens.issue("subject-of-alice", { username: "alice", scope: "read" });
  const ctx = requestContext();
  const claims = authenticateBearer(request(`Bearer ${token}`), ctx, { tokens });
  assert.ok(!(claims instanceof Promise), "the cached claims themselves");
  assert.equal(claims.sub, "subject-of-alice");
  assert.equal(ctx.user, "alice");
  assert.equal(tokens.cacheHits, 1);
  assert.equal(tokens.outcomes.get("valid"), 1);
  const refused = authenticateBearer(request(`Bearer ${token}`), requestContext(), {
    tokens,
    scope: "hello",
  });
  assert.ok(refused instanceof Promise, "a refusal is a rejected promise, never a throw");
  await assert.rejects(
    refused,
    (error) => error instanceof AuthFailure && error.code === "insufficient_scope",
  );
  const unseen = authenticateBearer(request(`Bearer ${token}x`), requestContext(), { tokens });
  assert.ok(unseen instanceof Promise, "a token not seen before is checked by verify");
  await assert.rejects(unseen, AuthFailure);
});

Deno.test("authenticateBearer records a client's token for itself as the client's, never as a user's", async () => {
  await using tokens = await tokenService();
  const { token } = await tokens.issue("reporting", { clientId: "reporting", scope: "hello" });
  const ctx = requestContext();
  assert.equal(
    (await authenticateBearer(request(`Bearer ${token}`), ctx, { tokens })).sub,
    "reporting",
  );
  assert.equal(ctx.user, undefined);
  assert.equal(ctx.client, "reporting");
});

Deno.test("authenticateBearer refuses a token without the required scope as insufficient_scope", async () => {
  await using tokens = await tokenService();
  const { token } = await tokens.issue("alice", { scope: "read" });
  await assert.rejects(
    Promise.resolve(
      authenticateBearer(request(`Bearer ${token}`), requestContext(), { tokens, scope: "hello" }),
    ),
    (error) => {
      assert.ok(error instanceof AuthFailure);
      assert.equal(error.code, "insufficient_scope");
      assert.equal(error.scope, "hello");
      return true;
    },
  );
});

Deno.test("authenticateClient reads Basic or form credentials and records the client", async () => {
  const clients = new ClientRegistry({ conf: CLIENT_SECRET }, "first-party");
  const basic = new Request("https://api.test/oauth/token", {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`conf:${CLIENT_SECRET}`)}` },
  });
  const ctx = requestContext();
  const identity = await authenticateClient(basic, ctx, {
    params: readParameters(new URLSearchParams()),
    clients,
  });
  assert.deepEqual(identity, { clientId: "conf", authenticated: true });
  assert.equal(ctx.client, "conf");

  const form = new URLSearchParams({ client_id: "conf", client_secret: CLIENT_SECRET });
  const posted = await authenticateClient(request(), requestContext(), {
    params: readParameters(form),
    clients,
  });
  assert.deepEqual(posted, { clientId: "conf", authenticated: true });

  const none = await authenticateClient(request(), requestContext(), {
    params: readParameters(new URLSearchParams()),
    clients,
  });
  assert.deepEqual(none, { clientId: "first-party", authenticated: false });
});

Deno.test("ClientRegistry refuses the default client as a confidential client and knows which are", async () => {
  assert.throws(
    () => new ClientRegistry({ "first-party": CLIENT_SECRET }, "first-party"),
    /default client "first-party" cannot be a confidential client/,
  );
  await using store = await registeredClients();
  const clients = new ClientRegistry({ conf: CLIENT_SECRET, rs: CLIENT_SECRET }, "first-party", {
    introspectors: ["rs"],
    store,
  });
  assert.equal(await clients.isConfidential("conf"), true);
  assert.equal(await clients.isConfidential("registered-conf"), true);
  assert.equal(await clients.isConfidential("registered-public"), false);
  assert.equal(await clients.isConfidential("first-party"), false);
  assert.equal(await clients.isConfidential("public-app"), false);
  assert.equal(clients.mayIntrospectAll({ clientId: "rs", authenticated: true }), true);
  assert.equal(clients.mayIntrospectAll({ clientId: "rs", authenticated: false }), false);
  assert.equal(clients.mayIntrospectAll({ clientId: "conf", authenticated: true }), false);
});

Deno.test("ClientRegistry identifies a registered confidential client by either reading of its Basic secret, and a registered public one only without a secret", async () => {
  await using store = await registeredClients();
  const clients = new ClientRegistry({}, "first-party", { store });
  const identify = (clientId: string, secret?: string | [string, string]) =>
    clients.identify({ clientId, secret });
  for (const secret of [store.secret, [store.secret, "other"], ["other", store.secret]] as const) {
    const identity = await identify("registered-conf", secret as string | [string, string]);
    assert.equal(identity.authenticated, true, JSON.stringify(secret));
    assert.equal(identity.registered?.confidential, true);
  }
  await assertFailure(identify("registered-conf", ["wrong", "also wrong"]), "invalid_client");
  await assertFailure(identify("registered-conf"), "invalid_client", /must authenticate/);
  const open = await identify("registered-public");
  assert.equal(open.authenticated, false);
  assert.equal(open.registered?.confidential, false);
  await assertFailure(identify("registered-public", store.secret), "invalid_client");
});

Deno.test("authenticateClient refuses two methods, a repeated parameter and bad Basic", async () => {
  const clients = new ClientRegistry({ conf: CLIENT_SECRET }, "first-party");
  const basic = `Basic ${btoa(`conf:${CLIENT_SECRET}`)}`;
  await assertFailure(
    authenticateClient(request(basic), requestContext(), {
      params: readParameters(new URLSearchParams({ client_secret: CLIENT_SECRET })),
      clients,
    }),
    "invalid_request",
  );
  await assertFailure(
    authenticateClient(request(), requestContext(), {
      params: readParameters(new URLSearchParams([["client_id", "conf"], ["client_id", "other"]])),
      clients,
    }),
    "invalid_request",
    /Parameter "client_id" is repeated/,
  );
  await assertFailure(
    authenticateClient(request(`Basic ${btoa("conf")}`), requestContext(), {
      params: readParameters(new URLSearchParams()),
      clients,
    }),
    "invalid_client",
  );
  await assertFailure(
    authenticateClient(request(), requestContext(), {
      params: readParameters(new URLSearchParams({ client_id: "conf", client_secret: "wrong" })),
      clients,
    }),
    "invalid_client",
  );
});
