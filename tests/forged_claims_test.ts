/**
 * @module
 * Access tokens signed with the server's own key whose claims are wrong: expired, not yet valid,
 * another issuer or audience, the wrong typ, a required claim missing, claims of the wrong type,
 * lifetimes longer than configured, and a token too large to parse. GET /hello refuses each with
 * the claim it names.
 */
import assert from "node:assert/strict";
import {
  assertAccepted,
  assertForgeriesRefused,
  forgeryKit,
  signEs256,
  startForgeryTarget,
  without,
} from "./helpers/forged_tokens.ts";

const claim = (name: string) => `Invalid "${name}" claim`;

Deno.test("GET /hello answers 401 invalid_token to tokens signed with the real key whose claims are wrong", async (t) => {
  await using server = await startForgeryTarget();
  const kit = await forgeryKit(server);
  const { kid, privateKey, es256, claims, now } = kit;

  await t.step(
    "control: an iat within the leeway ahead and the full configured lifetime are accepted",
    async () => {
      const edge = { ...claims, iat: now + 25, nbf: now, exp: now + 25 + 900 };
      await assertAccepted(server, await signEs256(es256, edge, privateKey));
    },
  );
  await assertForgeriesRefused(t, server, {
    real: kit.real,
    forgeries: [
      {
        name: "an expired token (exp 120 s ago, past the 30 s leeway)",
        msg: "Token has expired",
        forge: () =>
          signEs256(
            es256,
            { ...claims, iat: now - 1000, nbf: now - 1000, exp: now - 120 },
            privateKey,
          ),
      },
      {
        name: "a token not yet valid (nbf an hour ahead)",
        msg: "Token is not yet valid",
        forge: () => signEs256(es256, { ...claims, nbf: now + 3600, exp: now + 7200 }, privateKey),
      },
      {
        name: "a wrong iss",
        msg: claim("iss"),
        forge: () => signEs256(es256, { ...claims, iss: "https://attacker.invalid" }, privateKey),
      },
      {
        name: "a wrong aud",
        msg: claim("aud"),
        forge: () =>
          signEs256(es256, { ...claims, aud: "https://other-service.invalid" }, privateKey),
      },
      {
        name: "typ JWT instead of at+jwt",
        msg: claim("typ"),
        forge: () => signEs256({ ...es256, typ: "JWT" }, claims, privateKey),
      },
      {
        name: "no typ",
        msg: claim("typ"),
        forge: () => signEs256({ alg: "ES256", kid }, claims, privateKey),
      },
      ...["iss", "aud", "sub", "iat", "nbf", "exp", "jti"].map((name) => ({
        name: `the required claim ${name} missing`,
        msg: claim(name),
        forge: () => signEs256(es256, without(claims, name), privateKey),
      })),
      {
        name: "a numeric sub",
        msg: claim("sub"),
        forge: () => signEs256(es256, { ...claims, sub: 1 }, privateKey),
      },
      {
        name: "an empty sub",
        msg: claim("sub"),
        forge: () => signEs256(es256, { ...claims, sub: "" }, privateKey),
      },
      {
        name: "a numeric jti",
        msg: claim("jti"),
        forge: () => signEs256(es256, { ...claims, jti: 7 }, privateKey),
      },
      {
        name: "a scope that is an array",
        msg: claim("scope"),
        forge: () => signEs256(es256, { ...claims, scope: ["hello"] }, privateKey),
      },
      {
        name: "a scope that is an object",
        msg: claim("scope"),
        forge: () => signEs256(es256, { ...claims, scope: { hello: true } }, privateKey),
      },
      {
        name: "a preferred_username that is an object",
        msg: claim("preferred_username"),
        forge: () => signEs256(es256, { ...claims, preferred_username: { a: 1 } }, privateKey),
      },
      {
        name: "a sid that is a number",
        msg: claim("sid"),
        forge: () => signEs256(es256, { ...claims, sid: 42 }, privateKey),
      },
      {
        name: "a client_id that is null",
        msg: claim("client_id"),
        forge: () => signEs256(es256, { ...claims, client_id: null }, privateKey),
      },
      {
        name: "an iat that is a string",
        msg: claim("iat"),
        forge: () => signEs256(es256, { ...claims, iat: String(claims.iat) }, privateKey),
      },
      {
        name: "an iat beyond the leeway in the future",
        msg: claim("iat"),
        forge: () =>
          signEs256(es256, { ...claims, iat: now + 40, nbf: now, exp: now + 900 }, privateKey),
      },
      {
        name: "an iat and exp years ahead",
        msg: claim("iat"),
        forge: () =>
          signEs256(es256, {
            ...claims,
            iat: now + 3 * 365 * 86400,
            nbf: now,
            exp: now + 3 * 365 * 86400 + 900,
          }, privateKey),
      },
      {
        name: "an exp − iat longer than the configured lifetime",
        msg: claim("exp"),
        forge: () =>
          signEs256(es256, { ...claims, iat: now, nbf: now, exp: now + 901 }, privateKey),
      },
      {
        name: "an exp ten years ahead",
        msg: claim("exp"),
        forge: () =>
          signEs256(es256, { ...claims, iat: now, exp: now + 10 * 365 * 86400 }, privateKey),
      },
      {
        name: "a token over 8 KiB, validly signed with a huge claim",
        msg: "Token is too large",
        forge: async () => {
          const token = await signEs256(es256, { ...claims, pad: "x".repeat(9000) }, privateKey);
          assert.ok(token.length > 8192);
          return token;
        },
      },
    ],
  });
});
