/**
 * panva's oidc-provider as a peer for the token endpoint benchmark: one confidential client with
 * the client_credentials grant, over HTTPS with the benchmark's certificate, on Node (or Deno).
 *
 *   node tests/bench/oidc_provider_peer.mjs --cert cert.pem --key key.pem --secret S \
 *     --format jwt|opaque [--alg ES256|EdDSA] [--port 0]
 *
 * `jwt` issues JWT access tokens signed with `--alg` for a resource server named by resource
 * indicators (its default resource), as RFC 9068 tokens; `opaque` issues opaque tokens kept in
 * the provider's memory adapter. It prints one line `{"msg":"Listening","url":…}` once bound.
 *
 * @module
 */
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { parseArgs } from "node:util";
import Provider from "oidc-provider";

const { values } = parseArgs({
  options: {
    cert: { type: "string" },
    key: { type: "string" },
    secret: { type: "string" },
    format: { type: "string", default: "jwt" },
    alg: { type: "string", default: "ES256" },
    port: { type: "string", default: "0" },
  },
});
if (!values.cert || !values.key || !values.secret || !["jwt", "opaque"].includes(values.format)) {
  console.error("Error: expected --cert FILE --key FILE --secret S --format jwt|opaque");
  process.exit(1);
}

/** The audience of the JWT access tokens, as this service's default audience is its origin. */
const RESOURCE = "https://api.example/";
const CLIENT_ID = "bench-service";

const { privateKey } = values.alg === "EdDSA"
  ? generateKeyPairSync("ed25519")
  : generateKeyPairSync("ec", { namedCurve: "P-256" });
const signingKey = { ...privateKey.export({ format: "jwk" }), use: "sig", kid: "bench" };

const server = createServer({
  cert: readFileSync(values.cert),
  key: readFileSync(values.key),
});
server.listen(Number(values.port), "127.0.0.1", () => {
  const url = `https://127.0.0.1:${server.address().port}`;
  const provider = new Provider(url, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: values.secret,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
      scope: "hello",
      id_token_signed_response_alg: values.alg,
    }],
    jwks: { keys: [signingKey] },
    scopes: ["hello"],
    cookies: { keys: [values.secret] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: values.format === "jwt",
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "hello",
          audience: RESOURCE,
          accessTokenTTL: 900,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: values.alg } },
        }),
      },
    },
  });
  server.on("request", provider.callback());
  console.log(JSON.stringify({ msg: "Listening", url, clientId: CLIENT_ID }));
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
