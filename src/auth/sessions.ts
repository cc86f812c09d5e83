/**
 * @module
 * Login sessions: refresh-token families with rotation and reuse detection, logout, and the
 * RFC 7009 / RFC 7662 revocation and introspection of tokens. It speaks in domain errors only.
 */
import { unixNow, type UnixSeconds } from "../clock.ts";
import type { Store } from "../store/store.ts";
import { AuthFailure, invalidGrant } from "./errors.ts";
import type { RevocationList } from "./revocations.ts";
import { grantScope, type ScopePolicy } from "./scopes.ts";
import type { AccessClaims, Presenter, TokenService } from "./tokens.ts";

/** An access token with the refresh token that renews it. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
  claims: AccessClaims;
}

/** Settings of the session service. */
export interface SessionOptions {
  refreshTtlSeconds: number;
  scopes: ScopePolicy;
}

const REFRESH_TOKEN_BYTES = 32;
const REFRESH_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Login sessions: each login starts a family of opaque refresh tokens (stored only as SHA-256),
 * each usable once. Presenting a used one revokes the whole family and its access tokens
 * (RFC 9700 §4.14.2).
 *
 * @example
 * ```ts
 * const pair = await sessions.start("user1", { clientId: "cli" });
 * const next = await sessions.refresh(pair.refreshToken, { clientId: "cli" });
 * ```
 */
export class SessionService {
  #store: Store;
  #tokens: TokenService;
  #revocations: RevocationList;
  readonly options: Readonly<SessionOptions>;

  constructor(
    deps: { store: Store; tokens: TokenService; revocations: RevocationList },
    options: SessionOptions,
  ) {
    this.#store = deps.store;
    this.#tokens = deps.tokens;
    this.#revocations = deps.revocations;
    this.options = options;
  }

  /** Starts a session for an authenticated user; `scope` is checked against the policy. */
  async start(
    username: string,
    request: { clientId: string; scope?: string },
  ): Promise<TokenPair> {
    const scope = grantScope(request.scope, this.options.scopes);
    return await this.#issue(username, request.clientId, scope, crypto.randomUUID());
  }

  /** Exchanges a refresh token for a new pair; a replayed token revokes its family. */
  async refresh(
    refreshToken: string,
    request: { clientId?: string; scope?: string } = {},
  ): Promise<TokenPair> {
    if (!REFRESH_TOKEN_FORMAT.test(refreshToken)) throw invalidGrant("Invalid refresh token");
    const tokenHash = await sha256(refreshToken);
    const now = unixNow();
    // A refused scope must not spend a usable token: the client's retry would look like a replay.
    const known = await this.#store.getRefreshToken(tokenHash);
    if (
      known && known.usedAt === null && known.revokedAt === null && known.expiresAt > now &&
      (request.clientId === undefined || request.clientId === known.clientId)
    ) {
      grantScope(request.scope, this.options.scopes, known.scope);
    }
    const result = await this.#store.useRefreshToken(tokenHash, now);
    if (result.outcome === "unknown") throw invalidGrant("Invalid refresh token");
    const { record } = result;
    if (result.outcome === "reused") {
      await this.#revokeSession(record.familyId, now);
      throw invalidGrant("Refresh token was already used; the session has been revoked");
    }
    if (result.outcome === "revoked") throw invalidGrant("Refresh token has been revoked");
    if (result.outcome === "expired") throw invalidGrant("Refresh token has expired");
    if (request.clientId !== undefined && request.clientId !== record.clientId) {
      await this.#revokeSession(record.familyId, now);
      throw invalidGrant("Refresh token was issued to another client");
    }
    const scope = grantScope(request.scope, this.options.scopes, record.scope);
    return await this.#issue(record.username, record.clientId, scope, record.familyId);
  }

  /** Ends the session of an access token: the token itself and its whole refresh family. */
  async logout(claims: AccessClaims): Promise<void> {
    await this.#revocations.revoke("jti", claims.jti, claims.exp + this.#leeway());
    if (claims.sid) await this.#revokeSession(claims.sid, unixNow());
  }

  /**
   * RFC 7009 revocation: a refresh token revokes its family; an access token revokes itself.
   * Unknown or invalid tokens are ignored, as the RFC asks, but charged to the presenter's
   * invalid-token budget like any other; once it is spent, this throws `throttled`.
   */
  async revoke(token: string, hint?: string, presenter: Presenter = {}): Promise<void> {
    const asRefresh = async () => {
      if (!REFRESH_TOKEN_FORMAT.test(token)) return false;
      const record = await this.#store.getRefreshToken(await sha256(token));
      if (record) await this.#revokeSession(record.familyId, unixNow());
      return record !== undefined;
    };
    const asAccess = async () => {
      const claims = await this.#tokens.verify(token, presenter).catch(ignoreInvalidToken);
      if (claims) await this.#revocations.revoke("jti", claims.jti, claims.exp + this.#leeway());
      return claims !== undefined;
    };
    if (hint === "access_token") {
      if (!await asAccess()) await asRefresh();
    } else if (!await asRefresh()) {
      await asAccess();
    }
  }

  /** RFC 7662 introspection of an access or refresh token. */
  async introspect(token: string, hint?: string): Promise<Record<string, unknown>> {
    const refresh = async () => {
      if (!REFRESH_TOKEN_FORMAT.test(token)) return undefined;
      const record = await this.#store.getRefreshToken(await sha256(token));
      const active = record && record.usedAt === null && record.revokedAt === null &&
        record.expiresAt > unixNow();
      return active
        ? {
          active: true,
          token_type: "refresh_token",
          scope: record.scope,
          client_id: record.clientId,
          username: record.username,
          sub: record.username,
          iat: record.createdAt,
          exp: record.expiresAt,
        }
        : undefined;
    };
    const access = async () => {
      const claims = await this.#tokens.verify(token).catch(() => undefined);
      return claims
        ? { active: true, token_type: "Bearer", username: claims.sub, ...claims }
        : undefined;
    };
    const [first, second] = hint === "refresh_token" ? [refresh, access] : [access, refresh];
    return await first() ?? await second() ?? { active: false };
  }

  async #issue(
    username: string,
    clientId: string,
    scope: string,
    familyId: string,
  ): Promise<TokenPair> {
    const now = unixNow();
    const refreshToken = crypto.getRandomValues(new Uint8Array(REFRESH_TOKEN_BYTES))
      .toBase64({ alphabet: "base64url", omitPadding: true });
    await this.#store.addRefreshToken({
      tokenHash: await sha256(refreshToken),
      familyId,
      username,
      clientId,
      scope,
      createdAt: now,
      expiresAt: now + this.options.refreshTtlSeconds,
      usedAt: null,
      revokedAt: null,
    });
    const issued = await this.#tokens.issue(username, { scope, clientId, sessionId: familyId });
    return {
      accessToken: issued.token,
      refreshToken,
      expiresIn: issued.expiresIn,
      scope,
      claims: issued.claims,
    };
  }

  async #revokeSession(familyId: string, now: UnixSeconds): Promise<void> {
    await this.#store.revokeRefreshFamily(familyId, now);
    // Access tokens of the family live at most one lifetime (plus leeway) from now.
    await this.#revocations.revoke(
      "sid",
      familyId,
      now + this.#tokens.options.ttlSeconds + this.#leeway(),
    );
  }

  #leeway(): number {
    return this.#tokens.options.leewaySeconds;
  }
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toHex();
}

function ignoreInvalidToken(error: unknown): undefined {
  if (error instanceof AuthFailure && error.code === "invalid_token") return undefined;
  throw error;
}
