/**
 * @module
 * The tokens of a grant that a sign-in in a browser stands for: an authorization code redeemed,
 * or a device code whose authorization was approved. A refresh family is started on the account
 * that signed in and linked to that browser session, so that a replay, a sign-out or an account
 * change revokes what it issued; the client gets a refresh token only when registered for that
 * grant, and an ID token for scope `openid`. It speaks in domain errors and never reads a request.
 */
import type { UnixSeconds } from "../../clock.ts";
import type { AccountStore } from "../../store/accounts.ts";
import { type GrantResult, mayUseGrant } from "../clients/grants.ts";
import type { ClientIdentity } from "../clients/registry.ts";
import { AuthFailure } from "../errors.ts";
import { OPENID_SCOPE, scopeTokens } from "../scopes.ts";
import type { DpopBinding, RefreshFamilies, TokenPair } from "../tokens/refresh_families.ts";
import type { BrowserSessions } from "./browser_sessions.ts";
import type { IdTokens } from "./id_tokens.ts";

/** The sign-in a grant stands for, as its code or device authorization keeps it. */
export interface BrowserSignIn {
  username: string;
  /** The account that signed in: another account of the same name later is not it. */
  subject: string;
  clientId: string;
  scope: string;
  authTime: UnixSeconds;
  /** The browser session it signed in. */
  browserSid: string;
  /** The authorization request's `nonce`, for the ID token. */
  nonce?: string;
}

/** What issuing the tokens of a browser sign-in works with. */
export interface SignedInIssuing {
  signIn: BrowserSignIn;
  client: ClientIdentity;
  /** The DPoP key the token request proved, to bind the tokens to. */
  dpop?: DpopBinding;
  /** The error once the sign-in has ended: its account changed or its session ended. */
  ended: () => AuthFailure;
  store: AccountStore;
  families: RefreshFamilies;
  idTokens: IdTokens;
  browserSessions: BrowserSessions;
}

/**
 * Starts the refresh family of a grant. The password was checked at sign-in: the browser
 * session stands for that check, since an account change ends it in the same transaction as the
 * user's families. The family starts on the user's current password hash and is linked to the
 * browser session afterwards ({@linkcode signedInGrant}), which fails once that session has
 * ended; so a family started for a user whose password changed since the sign-in never survives.
 */
export async function startSignedInFamily(issuing: SignedInIssuing): Promise<TokenPair> {
  const { signIn, client, dpop, ended, store, families } = issuing;
  const user = await store.getUser(signIn.username);
  // Another account of the same name is not the one that signed in.
  if (!user || user.subject !== signIn.subject) throw ended();
  try {
    return await families.start(user, {
      clientId: signIn.clientId,
      registered: client.registered,
      scope: signIn.scope,
      dpop,
    });
  } catch (error) {
    // The password changed between the read and the start.
    if (error instanceof AuthFailure && error.code === "invalid_credentials") throw ended();
    throw error;
  }
}

/**
 * Links the family `pair` started to the browser session of the sign-in, revoking it when that
 * session has ended, and answers the client: the tokens of `pair` and, for scope `openid`, an ID
 * token naming the session and how it signed in.
 */
export async function signedInGrant(
  pair: TokenPair,
  issuing: SignedInIssuing,
): Promise<GrantResult> {
  const { signIn, client, ended, families, idTokens, browserSessions } = issuing;
  const familyId = pair.claims.sid!;
  if (!await browserSessions.linkFamily(signIn.browserSid, familyId)) {
    await families.revokeFamily(familyId);
    throw ended();
  }
  const grant: GrantResult = {
    accessToken: pair.accessToken,
    expiresIn: pair.expiresIn,
    scope: pair.scope,
    username: signIn.username,
    ...(mayUseGrant(client, "refresh_token") && { refreshToken: pair.refreshToken }),
  };
  if (scopeTokens(signIn.scope).includes(OPENID_SCOPE)) {
    grant.idToken = await idTokens.issue({
      subject: pair.claims.sub,
      clientId: signIn.clientId,
      authTime: signIn.authTime,
      sessionId: signIn.browserSid,
      amr: await browserSessions.methods(signIn.browserSid),
      ...(signIn.nonce !== undefined && { nonce: signIn.nonce }),
      accessToken: grant.accessToken,
    });
  }
  return grant;
}
