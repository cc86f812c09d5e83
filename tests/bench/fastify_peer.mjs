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
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import process from "node:process";
import Fastify from "fastify";
import fastifyJwt from "@fastify/jwt";
import { edgeHeaders } from "../helpers/edge_headers.mjs";
import { peerArgs } from "./peer_args.mjs";

const values = peerArgs(process.argv.slice(2), { cache: { type: "boolean", default: false } });

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
  let name;
  try {
    ({ preferred_username: name } = await request.jwtVerify());
  } catch {
    return reply.code(401).send({ msg: "Invalid token" });
  }
  reply.headers(edgeHeaders());
  return { message: `Hello, ${name}! You're authenticated.` };
});
const address = await app.listen({ host: "127.0.0.1", port: Number(values.port) });
console.log(JSON.stringify({ msg: "Listening", url: address }));
process.on("SIGTERM", () => app.close().then(() => process.exit(0)));
