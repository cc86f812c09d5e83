/**
 * Hono 4 with its JWT middleware (`hono/jwt`) as a peer for GET /hello: it verifies our ES256
 * access tokens (signature, expiry, issuer, audience) with the public key our JWKS lists, and
 * answers with our body and response headers, over `Deno.serve` with the benchmark's
 * certificate.
 *
 *   deno run --allow-read --allow-net tests/bench/hono_peer.ts --cert cert.pem --key key.pem \
 *     --jwk public-jwk.json --issuer URL --audience AUD [--port 0]
 *
 * It prints one line `{"msg":"Listening","url":…}` once bound.
 *
 * @module
 */
import { Hono } from "hono";
import { jwt } from "hono/jwt";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    cert: { type: "string" },
    key: { type: "string" },
    jwk: { type: "string" },
    issuer: { type: "string" },
    audience: { type: "string" },
    port: { type: "string", default: "0" },
  },
});
if (!values.cert || !values.key || !values.jwk || !values.issuer || !values.audience) {
  console.error("Error: expected --cert FILE --key FILE --jwk FILE --issuer URL --audience AUD");
  Deno.exit(1);
}

const app = new Hono();
app.use(
  "/hello",
  jwt({
    secret: JSON.parse(await Deno.readTextFile(values.jwk)),
    alg: "ES256",
    verification: { iss: values.issuer, aud: values.audience, typ: "at+jwt" },
  }),
);
app.get("/hello", (c) => {
  c.header("x-request-id", crypto.randomUUID());
  c.header("strict-transport-security", "max-age=63072000");
  c.header("x-content-type-options", "nosniff");
  c.header("x-frame-options", "DENY");
  c.header("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
  c.header("referrer-policy", "no-referrer");
  c.header("cache-control", "no-store");
  const { sub } = c.get("jwtPayload") as { sub: string };
  return c.json({ message: `Hello, ${sub}! You're authenticated.` });
});

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(values.port),
  cert: await Deno.readTextFile(values.cert),
  key: await Deno.readTextFile(values.key),
  onListen({ port }) {
    console.log(JSON.stringify({ msg: "Listening", url: `https://127.0.0.1:${port}` }));
  },
}, app.fetch);
