/**
 * @module
 * Authorization codes (RFC 6749 §4.1, RFC 7636, RFC 9700 §4.5): issued after sign-in, usable once
 * within a minute, bound to the client, the redirect URI and the PKCE challenge, and kept no longer
 * than that minute. A replayed code revokes every token issued with it. Redeeming one issues the
 * access token, the refresh token and, for scope `openid`, the ID token. It speaks in domain errors
 * only.
 */
import { unixNow } from "../../clock.ts";
import type { AccountStore } from "../../store/accounts.ts";
import type { AuthorizationCodeRecord, SignInStore } from "../../store/sign_in.ts";
import type { AuthorizationRequest } from "./authorization_requests.ts";
import type { BrowserSession, BrowserSessions } from "./browser_sessions.ts";
import { type GrantResult, requireGrant } from "../clients/grants.ts";
import type { ClientIdentity } from "../clients/registry.ts";
import { AuthFailure, invalidGrant } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import type { IdTokens } from "./id_tokens.ts";
import { verifierMatches } from "./pkce.ts";
import { signedInGrant, type SignedInIssuing, startSignedInFamily } from "./signed_in_tokens.ts";
import { isSecretShaped, randomSecret, sha256Hex } from "../secrets.ts";
import type { DpopBinding, RefreshFamilies } from "../tokens/refresh_families.ts";

/** How long a code may wait for its exchange (RFC 6749 §4.1.2 asks for at most ten minutes). */
export const AUTHORIZATION_CODE_TTL_SECONDS = 60;
/**
 * The most codes one browser session keeps, used or not: single sign-on issues one per
 * `/authorize`, and a new one drops the oldest.
 */
export const MAX_CODES_PER_BROWSER_SESSION = 16;

/** What a client presents with a code at the token endpoint. */
export interface CodeExchange {
  client: ClientIdentity;
  redirectUri?: string;
  codeVerifier?: string;
  /** Where the request came from, for the audit trail. */
  origin?: Origin;
  /** The DPoP key the request proved, to bind the tokens to. */
  dpop?: DpopBinding;
}

/** What authorization codes need. */
export interface AuthorizationCodeDeps {
  store: AccountStore & SignInStore;
  families: RefreshFamilies;
  idTokens: IdTokens;
  browserSessions: BrowserSessions;
  /** Where a replayed code is reported. */
  events?: SecurityEvents;
}

/**
 * Issues and redeems authorization codes.
 *
 * @example
 * ```ts
 * const code = await codes.issue(request, session);
 * const grant = await codes.redeem(code, { client, redirectUri, codeVerifier });
 * ```
 */
export class AuthorizationCodes {
  #deps: AuthorizationCodeDeps;

  constructor(deps: AuthorizationCodeDeps) {
    this.#deps = deps;
  }

  /**
   * A new code for a validated request of a signed-in browser; only its hash is stored. The
   * session's expired codes go, and its oldest beyond {@linkcode MAX_CODES_PER_BROWSER_SESSION}.
   */
  async issue(request: AuthorizationRequest, session: BrowserSession): Promise<string> {
    const now = unixNow();
    const code = randomSecret();
    await this.#deps.store.addAuthorizationCode({
      codeHash: await sha256Hex(code),
      clientId: request.clientId,
      username: session.username,
      subject: session.subject,
      redirectUri: request.redirectUri,
      scope: request.scope,
      codeChallenge: request.codeChallenge,
      nonce: request.nonce ?? null,
      authTime: session.authTime,
      browserSid: session.sid,
      createdAt: now,
      expiresAt: now + AUTHORIZATION_CODE_TTL_SECONDS,
      usedAt: null,
      familyId: null,
      replayedAt: null,
      dpopJkt: request.dpopJkt ?? null,
    }, MAX_CODES_PER_BROWSER_SESSION);
    return code;
  }

  /**
   * Exchanges a code for tokens. The code is spent by the first attempt, right or wrong; a
   * second one revokes what the first issued.
   */
  async redeem(code: string | undefined, exchange: CodeExchange): Promise<GrantResult> {
    const { store, families, idTokens, browserSessions } = this.#deps;
    const { client } = exchange;
    requireGrant(client, "authorization_code");
    if (code === undefined) throw new AuthFailure("invalid_request", "Missing code");
    if (!isSecretShaped(code)) throw invalidGrant("Invalid authorization code");
    const codeHash = await sha256Hex(code);
    const result = await store.useAuthorizationCode(codeHash, unixNow());
    if (result.outcome === "unknown") throw invalidGrant("Invalid authorization code");
    const { record } = result;
    if (result.outcome === "reused") {
      if (record.familyId !== null) await families.revokeFamily(record.familyId);
      (this.#deps.events ?? UNRECORDED).record({
        event: "code_reuse_detected",
        subject: record.username,
        client: record.clientId,
        sid: record.familyId ?? undefined,
      }, exchange.origin);
      throw replayed();
    }
    if (result.outcome === "expired") throw invalidGrant("Authorization code has expired");
    if (!issuedTo(record, client)) {
      throw invalidGrant("Authorization code was issued to another client");
    }
    if (exchange.redirectUri !== record.redirectUri) {
      throw invalidGrant("redirect_uri does not match the authorization request");
    }
    if (!await verifierMatches(exchange.codeVerifier, record.codeChallenge)) {
      throw invalidGrant("code_verifier does not match the code_challenge");
    }
    if (record.dpopJkt && record.dpopJkt !== exchange.dpop?.jkt) {
      (this.#deps.events ?? UNRECORDED).record({
        event: "dpop_proof_refused",
        client: record.clientId,
        reason: "key_mismatch",
      }, exchange.origin);
      throw new AuthFailure(
        "invalid_dpop_proof",
        "Authorization code is bound to a DPoP key (dpop_jkt): send a proof made with it",
        { reason: "key_mismatch" },
      );
    }

    // Every code starts a refresh family, so that a replay, a sign-out or an account
    // change revokes what it issued; a client without the refresh_token grant gets no refresh
    // token.
    const issuing: SignedInIssuing = {
      signIn: { ...record, nonce: record.nonce ?? undefined },
      client,
      dpop: exchange.dpop,
      ended: signedOut,
      store,
      families,
      idTokens,
      browserSessions,
    };
    const pair = await startSignedInFamily(issuing);
    const familyId = pair.claims.sid!;
    // A replay that came while the tokens were being issued could not revoke them: this does.
    if ((await store.attachCodeFamily(codeHash, familyId)).replayed) {
      await families.revokeFamily(familyId);
      throw replayed();
    }
    return await signedInGrant(pair, issuing);
  }
}

/**
 * Whether the code was issued to `client` as it is registered now: a code issued before the
 * client was removed and registered again is not the new registration's.
 */
function issuedTo(record: AuthorizationCodeRecord, client: ClientIdentity): boolean {
  return record.clientId === client.clientId && client.registered !== undefined &&
    record.createdAt >= client.registered.registeredAt;
}

function signedOut(): AuthFailure {
  return invalidGrant("The browser session of this code has ended");
}

function replayed(): AuthFailure {
  return invalidGrant(
    "Authorization code was already used; the tokens issued with it have been revoked",
  );
}
