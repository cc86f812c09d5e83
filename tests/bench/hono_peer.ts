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
import { edgeHeaders } from "../helpers/edge_headers.mjs";
import { peerArgs } from "./peer_args.mjs";

const values = peerArgs(Deno.args);

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
  const { preferred_username: name } = c.get("jwtPayload") as { preferred_username: string };
  return c.json({ message: `Hello, ${name}! You're authenticated.` }, 200, edgeHeaders());
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
