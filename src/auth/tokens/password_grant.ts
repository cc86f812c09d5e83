/**
 * @module
 * The resource owner password credentials grant (RFC 6749 §4.3): a client registered for it (or
 * an unregistered one) trades a user's password for a refresh family. Everything that can refuse
 * the request without the password (the client's grants, the scope within its registration) is
 * decided before the password is hashed, so a refused request costs no hash and no throttle
 * attempt. It never reads a request and never builds a response.
 */
import type { LoginSource, LoginSuccess, PasswordLogin } from "../accounts/password_login.ts";
import { requireGrant } from "../clients/grants.ts";
import type { ClientIdentity } from "../clients/registry.ts";
import { grantScope, type ScopePolicy } from "../scopes.ts";
import type { DpopBinding, RefreshFamilies, TokenPair } from "./refresh_families.ts";

/** What the password grant is given at the token endpoint. */
export interface PasswordGrantRequest {
  username: unknown;
  password: unknown;
  /** The `scope` parameter, if any. */
  scope?: string;
  /** The DPoP key the request proved, to bind the tokens to. */
  dpop?: DpopBinding;
  /** Where the login comes from, for the throttle, device tokens and the audit trail. */
  source: Omit<LoginSource, "clientId">;
}

/** What the password grant works with. */
export interface PasswordGrantDeps {
  passwordLogin: PasswordLogin;
  families: RefreshFamilies;
  /** Scopes, with `openid` and `profile`. */
  policy: ScopePolicy;
}

/**
 * Checks the user's password for `client` and starts a refresh family with the scope decided as
 * for every grant; answers the login (with its device token) and the tokens.
 *
 * @example
 * ```ts
 * const { pair } = await passwordGrant(client, { username, password, source }, deps);
 * ```
 */
export async function passwordGrant(
  client: ClientIdentity,
  request: PasswordGrantRequest,
  { passwordLogin, families, policy }: PasswordGrantDeps,
): Promise<{ login: LoginSuccess; pair: TokenPair }> {
  requireGrant(client, "password");
  const { registered } = client;
  const scope = grantScope(request.scope, policy, { registered: registered?.scope });
  const login = await passwordLogin.check(request.username, request.password, {
    ...request.source,
    clientId: client.clientId,
  });
  const pair = await families.start(login, {
    clientId: client.clientId,
    registered,
    scope,
    dpop: request.dpop,
  });
  return { login, pair };
}
