/**
 * @module
 * Which client may use which grant: the one check behind `/authorize` and every grant of
 * `/oauth/token`, as a table over registered and unregistered, public and confidential clients.
 */
import assert from "node:assert/strict";
import {
  GRANT_TYPES,
  type GrantType,
  mayUseGrant,
  requireGrant,
} from "../src/auth/clients/grants.ts";
import type { ClientIdentity, RegisteredClient } from "../src/auth/clients/registry.ts";
import { AuthFailure } from "../src/auth/errors.ts";

function registered(
  grantTypes: GrantType[],
  options: { confidential?: boolean; authenticated?: boolean } = {},
): ClientIdentity {
  const { confidential = false, authenticated = confidential } = options;
  const registration: RegisteredClient = {
    clientId: "app",
    displayName: "App",
    confidential,
    redirectUris: ["https://app.example/cb"],
    postLogoutRedirectUris: [],
    firstParty: false,
    scope: "openid",
    grantTypes,
    registeredAt: 1_900_000_000,
  };
  return { clientId: "app", authenticated, registered: registration };
}

const CONFIGURED: ClientIdentity = { clientId: "reporting", authenticated: true };
const DEFAULT_CLIENT: ClientIdentity = { clientId: "first-party", authenticated: false };

Deno.test("mayUseGrant answers for every kind of client and every grant", () => {
  const cases: [string, ClientIdentity, GrantType[]][] = [
    ["the default client", DEFAULT_CLIENT, ["password", "refresh_token"]],
    ["a client of OAUTH_CLIENTS", CONFIGURED, ["password", "refresh_token"]],
    [
      "a public client registered for the code flow",
      registered(["authorization_code", "refresh_token"]),
      ["authorization_code", "refresh_token"],
    ],
    [
      "a public client registered with every grant it can have",
      registered(["authorization_code", "password", "client_credentials"]),
      ["authorization_code", "password"],
    ],
    [
      "a confidential client that proved its secret",
      registered(["client_credentials"], { confidential: true }),
      ["client_credentials"],
    ],
    [
      "a confidential client that did not prove its secret",
      registered(["client_credentials", "password"], { confidential: true, authenticated: false }),
      ["password"],
    ],
    ["a registered client without grants", registered([]), []],
  ];
  for (const [what, client, allowed] of cases) {
    for (const grant of GRANT_TYPES) {
      assert.equal(mayUseGrant(client, grant), allowed.includes(grant), `${what}: ${grant}`);
    }
  }
});

Deno.test("requireGrant refuses with unauthorized_client naming the client and the grant", () => {
  const client = registered(["authorization_code"]);
  requireGrant(client, "authorization_code");
  const refusals: [GrantType, string | undefined, string][] = [
    ["password", undefined, 'Client "app" may not use the password grant'],
    ["refresh_token", undefined, 'Client "app" may not use the refresh_token grant'],
    ["client_credentials", undefined, 'Client "app" may not use the client credentials grant'],
  ];
  for (const [grant, use, message] of refusals) {
    assert.throws(
      () => requireGrant(client, grant, use),
      (error) =>
        error instanceof AuthFailure && error.code === "unauthorized_client" &&
        error.message === message,
      grant,
    );
  }
  assert.throws(
    () => requireGrant(registered([]), "authorization_code", "the authorization code flow"),
    /^AuthFailure: Client "app" may not use the authorization code flow$/,
  );
});
