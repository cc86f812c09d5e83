/**
 * Fastify 5 with @fastify/jwt as a peer for GET /hello, on Node: it verifies our ES256 access
 * tokens (signature, expiry, issuer, audience) with the public key our JWKS lists, with or
 * without fast-jwt's verify cache, and answers with our body and response headers over HTTPS
 * with the benchmark's certificate.
 *
 *   node tests/bench/fastify_peer.mjs --cert cert.pem --key key.pem --jwk public-jwk.json \
 *     --issuer URL --audience AUD [--cache] [--port 0]
 *
 * It prints one line `{"msg":"Listening","url":…}` once bound.
 *
 * @module
 */
import { createPublicKey, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import Fastify from "fastify";
import fastifyJwt from "@fastify/jwt";

const { values } = parseArgs({
  options: {
    cert: { type: "string" },
    key: { type: "string" },
    jwk: { type: "string" },
    issuer: { type: "string" },
    audience: { type: "string" },
    cache: { type: "boolean", default: false },
    port: { type: "string", default: "0" },
  },
});
if (!values.cert || !values.key || !values.jwk || !values.issuer || !values.audience) {
  console.error("Error: expected --cert FILE --key FILE --jwk FILE --issuer URL --audience AUD");
  process.exit(1);
}

const publicKey = createPublicKey({
  key: JSON.parse(readFileSync(values.jwk, "utf8")),
  format: "jwk",
}).export({ type: "spki", format: "pem" });
const app = Fastify({
  https: { cert: readFileSync(values.cert), key: readFileSync(values.key) },
  logger: false,
});
await app.register(fastifyJwt, {
  secret: { public: publicKey },
  verify: {
    algorithms: ["ES256"],
    allowedIss: values.issuer,
    allowedAud: values.audience,
    cache: values.cache,
  },
});
app.get("/hello", async (request, reply) => {
  let sub;
  try {
    ({ sub } = await request.jwtVerify());
  } catch {
    return reply.code(401).send({ msg: "Invalid token" });
  }
  reply.headers({
    "content-type": "application/json; charset=utf-8",
    "x-request-id": randomUUID(),
    "strict-transport-security": "max-age=63072000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
  });
  return { message: `Hello, ${sub}! You're authenticated.` };
});
const address = await app.listen({ host: "127.0.0.1", port: Number(values.port) });
console.log(JSON.stringify({ msg: "Listening", url: address }));
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
