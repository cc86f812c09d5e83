/**
 * @module
 * Refresh families: the refresh tokens a login starts, with rotation and reuse detection, logout,
 * and the RFC 7009 / RFC 7662 revocation and introspection of tokens, each bound to the client
 * the token was issued to. Every change to a family is one store transaction that holds the
 * family's lock, so a revoked family never mints again. It speaks in domain errors only.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { RefreshFamilyRecord, RefreshTokenRecord, TokenStore } from "../../store/tokens.ts";
import { requireGrant } from "../clients/grants.ts";
import type { ClientIdentity, ClientRegistry, RegisteredClient } from "../clients/registry.ts";
import { AuthFailure, invalidClient, invalidCredentials, invalidGrant } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import type { VerifiedUser } from "../accounts/password_login.ts";
import type { Revocations } from "./revocations.ts";
import { grantScope, type ScopePolicy } from "../scopes.ts";
import { isSecretShaped, randomSecret, sha256Hex } from "../secrets.ts";
import {
  type AccessClaims,
  type AccessTokens,
  type Presenter,
  userNameOf,
} from "./access_tokens.ts";

/** An access token with the refresh token that renews it. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
  claims: AccessClaims;
}

/**
 * The DPoP key a grant proved possession of (RFC 9449): its access tokens are bound to it, and a
 * public client's refresh family too (`bindsRefresh`), so that every refresh must prove it again.
 */
export interface DpopBinding {
  jkt: string;
  bindsRefresh: boolean;
}

/** Settings of refresh families. */
export interface RefreshFamilyOptions {
  /** Absolute lifetime of a refresh family from its login. */
  refreshTtlSeconds: number;
  /** Lifetime of each refresh token while unused; never beyond the end of its family. */
  refreshIdleTtlSeconds: number;
  scopes: ScopePolicy;
}

/** What refresh families work with. */
export interface RefreshFamilyDeps {
  store: TokenStore;
  tokens: AccessTokens;
  revocations: Revocations;
  clients: ClientRegistry;
  /** Where refreshes, replays, logouts and revocations are reported. */
  events?: SecurityEvents;
}

/**
 * Refresh families: each login starts a family of opaque refresh tokens (random secrets stored
 * only as SHA-256), each usable once, that ends at the latest `refreshTtlSeconds` after the
 * login. Presenting a used one revokes the whole family and its access tokens (RFC 9700 §4.14.2).
 *
 * @example
 * ```ts
 * const pair = await families.start(user, { clientId: "cli" });
 * const next = await families.refresh(pair.refreshToken, { client });
 * ```
 */
export class RefreshFamilies {
  #store: TokenStore;
  #tokens: AccessTokens;
  #revocations: Revocations;
  #clients: ClientRegistry;
  #events: SecurityEvents;
  readonly options: Readonly<RefreshFamilyOptions>;

  constructor(deps: RefreshFamilyDeps, options: RefreshFamilyOptions) {
    this.#store = deps.store;
    this.#tokens = deps.tokens;
    this.#revocations = deps.revocations;
    this.#clients = deps.clients;
    this.#events = deps.events ?? UNRECORDED;
    this.options = options;
  }

  /**
   * Starts a family for a user whose password was just checked, for the client `clientId`
   * (`registered`, when it is registered in the store); `scope` is decided as for every grant.
   * Refused as `invalid_credentials` when the password changed or the user was removed since the
   * check, and as `invalid_client` when the client's registration ended meanwhile.
   */
  async start(
    user: VerifiedUser,
    request: {
      clientId: string;
      registered?: RegisteredClient;
      scope?: string;
      dpop?: DpopBinding;
    },
  ): Promise<TokenPair> {
    const { registered } = request;
    const scope = grantScope(request.scope, this.options.scopes, { registered: registered?.scope });
    const now = unixNow();
    const refreshToken = randomSecret();
    const family: RefreshFamilyRecord = {
      id: crypto.randomUUID(),
      username: user.username,
      subject: user.subject,
      clientId: request.clientId,
      createdAt: now,
      expiresAt: now + this.options.refreshTtlSeconds,
      accessExpiresAt: this.#accessExpiresAt(now),
      revokedAt: null,
      dpopJkt: request.dpop?.bindsRefresh ? request.dpop.jkt : null,
      clientConfidential: registered?.confidential ??
        this.#clients.isConfigured(request.clientId),
    };
    const token: RefreshTokenRecord = {
      tokenHash: await sha256Hex(refreshToken),
      familyId: family.id,
      scope,
      createdAt: now,
      expiresAt: Math.min(now + this.options.refreshIdleTtlSeconds, family.expiresAt),
      usedAt: null,
    };
    const registration = registered && { createdAt: registered.registeredAt };
    if (!await this.#store.startRefreshFamily(family, token, user.passwordHash, registration)) {
      if (registered && !await this.#isCurrent(registered)) throw clientRemoved(registered);
      throw invalidCredentials();
    }
    return await this.#issue(family, {
      refreshToken,
      scope,
      issuedAt: now,
      jkt: request.dpop?.jkt,
    });
  }

  /**
   * Exchanges a refresh token for a new pair. `client` is the client of an OAuth request; without
   * it (the `/refresh` endpoint, which takes no client credentials) only tokens of public clients
   * are accepted; a `client` that may not use the refresh token grant is refused before the
   * token is looked at. A replayed token, or one presented by another client, revokes its family.
   * A family bound to a DPoP key refreshes only with a proof of that key (`jkt`, RFC 9449 §5);
   * with `jkt`, the new access token is bound to that key.
   */
  async refresh(
    refreshToken: string,
    request: { client?: ClientIdentity; scope?: string; origin?: Origin; jkt?: string } = {},
  ): Promise<TokenPair> {
    if (request.client) requireGrant(request.client, "refresh_token");
    if (!isSecretShaped(refreshToken)) throw invalidGrant("Invalid refresh token");
    const tokenHash = await sha256Hex(refreshToken);
    const nextToken = randomSecret();
    const nextHash = await sha256Hex(nextToken);
    const now = unixNow();
    // Whether the token's client must authenticate may take a store read (a registered client),
    // which the rotation cannot wait for; a family's client never changes.
    const presented = await this.#store.getRefreshToken(tokenHash);
    const confidential = presented !== undefined &&
      await this.#clients.isConfidential(presented.family.clientId);
    if (presented?.family.clientConfidential && !confidential) {
      throw await this.#endClientGone(presented.family, request.client, request.origin);
    }
    let wrongClient: string | undefined;
    let gone: RefreshFamilyRecord | undefined;
    const result = await this.#store.rotateRefreshToken(tokenHash, now, ({ token, family }) => {
      // Throwing here refuses without spending the token. The family may have been marked
      // since it was read above (by an instance starting with the client configured).
      if (family.clientConfidential && !confidential) {
        gone = family;
        throw invalidClient(`Client "${family.clientId}" no longer exists`);
      }
      const problem = clientProblem(family.clientId, confidential, request.client);
      if (problem) {
        wrongClient = family.id;
        throw invalidGrant(problem);
      }
      if (family.dpopJkt && family.dpopJkt !== request.jkt) {
        throw invalidGrant(
          request.jkt === undefined
            ? "Refresh token is bound to a DPoP key: send a DPoP proof made with it"
            : "Refresh token is bound to another DPoP key",
        );
      }
      return {
        tokenHash: nextHash,
        scope: grantScope(request.scope, this.options.scopes, {
          earlier: token.scope,
          registered: request.client?.registered?.scope,
        }),
        expiresAt: now + this.options.refreshIdleTtlSeconds,
        accessExpiresAt: this.#accessExpiresAt(now),
        // Past clientProblem, a confidential client has authenticated: a family written
        // without the mark gets it now.
        clientConfidential: confidential,
      };
    }).catch(async (error) => {
      if (gone !== undefined) throw await this.#endClientGone(gone, request.client, request.origin);
      if (wrongClient !== undefined) {
        await this.revokeFamily(wrongClient, now);
        this.#events.record({
          event: "refresh_refused",
          client: request.client?.clientId,
          sid: wrongClient,
          reason: "client_mismatch",
        }, request.origin);
      }
      throw error;
    });
    const about = result.outcome === "unknown" ? { client: request.client?.clientId } : {
      subject: result.family.username,
      client: result.family.clientId,
      sid: result.family.id,
    };
    switch (result.outcome) {
      case "unknown":
        throw invalidGrant("Invalid refresh token");
      case "reused":
        this.#revocations.remember(result.revocation);
        this.#events.record({ event: "refresh_reuse_detected", ...about }, request.origin);
        throw invalidGrant("Refresh token was already used; its refresh family has been revoked");
      case "revoked":
        this.#events.record(
          { event: "refresh_refused", ...about, reason: "revoked" },
          request.origin,
        );
        throw invalidGrant("Refresh token has been revoked");
      case "expired":
        throw invalidGrant("Refresh token has expired");
      case "rotated": {
        const pair = await this.#issue(result.family, {
          refreshToken: nextToken,
          scope: result.token.scope,
          issuedAt: now,
          jkt: request.jkt,
        });
        this.#events.record({ event: "token_refreshed", ...about }, request.origin);
        return pair;
      }
    }
  }

  /** Ends the refresh family of an access token: the token itself and the whole family. */
  async logout(claims: AccessClaims, origin?: Origin): Promise<void> {
    await this.#revocations.revoke("jti", claims.jti, claims.exp + this.#leeway());
    if (claims.sid) await this.revokeFamily(claims.sid);
    this.#events.record({
      event: "logout",
      subject: userNameOf(claims),
      client: claims.client_id,
      sid: claims.sid,
    }, origin);
  }

  /** Revokes a whole family: its refresh tokens and, through its `sid`, its access tokens. */
  async revokeFamily(familyId: string, now: UnixSeconds = unixNow()): Promise<void> {
    const revocation = await this.#store.revokeRefreshFamily(familyId, now);
    if (revocation) this.#revocations.remember(revocation);
  }

  /**
   * RFC 7009 revocation by `caller`: a refresh token revokes its family; an access token revokes
   * itself. Unknown or invalid tokens are ignored, as the RFC asks; a token issued to another
   * client is refused as `unauthorized_client` (§2.1) and left alone. Invalid access tokens are
   * charged to the presenter's invalid-token budget like any other; once it is spent, this throws
   * `throttled`.
   */
  async revoke(
    token: string,
    hint: string | undefined,
    caller: ClientIdentity,
    request: { presenter?: Presenter; origin?: Origin } = {},
  ): Promise<void> {
    const { presenter = {}, origin } = request;
    const asRefresh = async () => {
      if (!isSecretShaped(token)) return false;
      const found = await this.#store.getRefreshToken(await sha256Hex(token));
      if (!found) return false;
      // A token whose client is gone is invalid to everyone (RFC 7009 §2.2): it ends, quietly.
      if (await this.#clientGone(found.family)) {
        await this.#endClientGone(found.family, caller, origin);
        return true;
      }
      requireOwner(found.family.clientId, caller);
      await this.revokeFamily(found.family.id);
      this.#events.record({
        event: "token_revoked",
        subject: found.family.username,
        client: caller.clientId,
        sid: found.family.id,
        reason: "refresh_token",
      }, origin);
      return true;
    };
    const asAccess = async () => {
      const claims = await this.#tokens.verify(token, presenter).catch(ignoreInvalidToken);
      if (!claims) return false;
      requireOwner(claims.client_id, caller);
      await this.#revocations.revoke("jti", claims.jti, claims.exp + this.#leeway());
      this.#events.record({
        event: "token_revoked",
        subject: userNameOf(claims),
        client: caller.clientId,
        sid: claims.sid,
        reason: "access_token",
      }, origin);
      return true;
    };
    if (hint === "access_token") {
      if (!await asAccess()) await asRefresh();
    } else if (!await asRefresh()) {
      await asAccess();
    }
  }

  /**
   * RFC 7662 introspection of an access or refresh token by `caller`: tokens of other clients
   * are inactive to it unless it may introspect every token.
   */
  async introspect(
    token: string,
    hint: string | undefined,
    caller: ClientIdentity,
  ): Promise<Record<string, unknown>> {
    const visible = (clientId: string | undefined) =>
      clientId === caller.clientId || this.#clients.mayIntrospectAll(caller);
    const refresh = async () => {
      if (!isSecretShaped(token)) return undefined;
      const found = await this.#store.getRefreshToken(await sha256Hex(token));
      if (!found) return undefined;
      // Inactive, and left for a refresh or a revocation to end: introspection only reads.
      if (await this.#clientGone(found.family)) return undefined;
      if (!visible(found.family.clientId)) return undefined;
      const { token: record, family } = found;
      const now = unixNow();
      const active = record.usedAt === null && record.expiresAt > now &&
        family.revokedAt === null && family.expiresAt > now;
      return active
        ? {
          active: true,
          token_type: "refresh_token",
          scope: record.scope,
          client_id: family.clientId,
          username: family.username,
          sub: family.subject,
          iat: record.createdAt,
          exp: record.expiresAt,
        }
        : undefined;
    };
    const access = async () => {
      const claims = await this.#tokens.verify(token).catch(() => undefined);
      const username = claims && userNameOf(claims);
      return claims && visible(claims.client_id)
        ? {
          active: true,
          // A DPoP-bound token says so, with its `cnf` (RFC 9449 §6.2).
          token_type: claims.cnf ? "DPoP" : "Bearer",
          ...(username && { username }),
          ...claims,
        }
        : undefined;
    };
    const [first, second] = hint === "refresh_token" ? [refresh, access] : [access, refresh];
    return await first() ?? await second() ?? { active: false };
  }

  async #issue(
    family: RefreshFamilyRecord,
    fields: { refreshToken: string; scope: string; issuedAt: UnixSeconds; jkt?: string },
  ): Promise<TokenPair> {
    const issued = await this.#tokens.issue(family.subject, {
      jkt: fields.jkt,
      username: family.username,
      scope: fields.scope,
      clientId: family.clientId,
      familyId: family.id,
      issuedAt: fields.issuedAt,
    });
    return {
      accessToken: issued.token,
      refreshToken: fields.refreshToken,
      expiresIn: issued.expiresIn,
      scope: fields.scope,
      claims: issued.claims,
    };
  }

  /**
   * Whether the family's client had to authenticate when the family started but is no longer a
   * confidential client (removed from `OAUTH_CLIENTS` or the store): its tokens must not pass
   * for a public client's.
   */
  async #clientGone(family: RefreshFamilyRecord): Promise<boolean> {
    return family.clientConfidential === true &&
      !await this.#clients.isConfidential(family.clientId);
  }

  /**
   * Revokes a family whose client is gone and records it, once: a family already revoked (by an
   * earlier or a racing presentation) is only refused. Returns the `invalid_client` refusal that
   * says the client is gone.
   */
  async #endClientGone(
    family: RefreshFamilyRecord,
    caller: ClientIdentity | undefined,
    origin?: Origin,
  ): Promise<AuthFailure> {
    const revocation = family.revokedAt === null
      ? await this.#store.revokeLiveRefreshFamily(family.id, unixNow())
      : undefined;
    if (revocation) {
      this.#revocations.remember(revocation);
      this.#events.record({
        event: "refresh_refused",
        subject: family.username,
        client: family.clientId,
        caller: caller?.clientId,
        sid: family.id,
        reason: "client_removed",
      }, origin);
    }
    return invalidClient(`Client "${family.clientId}" no longer exists`);
  }

  /** Whether `client` is still registered as it was (not removed, nor registered again). */
  async #isCurrent(client: RegisteredClient): Promise<boolean> {
    return (await this.#clients.find(client.clientId))?.registeredAt === client.registeredAt;
  }

  /** Until when an access token issued at `issuedAt` may be accepted. */
  #accessExpiresAt(issuedAt: UnixSeconds): UnixSeconds {
    return issuedAt + this.#tokens.options.ttlSeconds + this.#leeway();
  }

  #leeway(): number {
    return this.#tokens.options.leewaySeconds;
  }
}

/**
 * Why a token of `tokenClient` (`confidential` or not) may not be redeemed by `caller`, if it may
 * not.
 */
function clientProblem(
  tokenClient: string,
  confidential: boolean,
  caller: ClientIdentity | undefined,
): string | undefined {
  if (caller === undefined) {
    return confidential
      ? `Refresh tokens of client "${tokenClient}" are redeemed only at /oauth/token with the client's credentials`
      : undefined;
  }
  if (caller.clientId !== tokenClient || (confidential && !caller.authenticated)) {
    return "Refresh token was issued to another client";
  }
  return undefined;
}

function clientRemoved(client: RegisteredClient): AuthFailure {
  return invalidClient(`Client "${client.clientId}" no longer exists`);
}

/** Refuses a revocation of a token that was not issued to the caller (RFC 7009 §2.1). */
function requireOwner(tokenClient: string | undefined, caller: ClientIdentity): void {
  if (tokenClient !== caller.clientId) {
    throw new AuthFailure("unauthorized_client", "Token was issued to another client");
  }
}

function ignoreInvalidToken(error: unknown): undefined {
  if (error instanceof AuthFailure && error.code === "invalid_token") return undefined;
  throw error;
}
