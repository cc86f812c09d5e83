/**
 * @module
 * Registering clients (`clients add`): what a registration may say, and the record it becomes.
 * A confidential client's secret is made here, shown once by the caller and stored only as
 * SHA-256. It never prints or reads anything itself.
 */
import { unixNow } from "../../clock.ts";
import type { ClientRecord } from "../../store/store.ts";
import { scopeTokens } from "../scopes.ts";
import { randomSecret, sha256Hex } from "../secrets.ts";
import { DEFAULT_GRANT_TYPES, GRANT_TYPES } from "./grants.ts";
import { redirectUriProblem } from "./redirect_uris.ts";
import { CLIENT_ID } from "./registry.ts";

/** Longest display name. */
const MAX_NAME_LENGTH = 100;

/** What a registration asks for. */
export interface ClientRegistration {
  clientId: string;
  name?: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  /** Public clients (browser and mobile apps) have no secret. */
  public: boolean;
  firstParty: boolean;
  /** Scopes it may ask for; every supported scope when absent. */
  scope?: string;
  /** Grant types; {@linkcode DEFAULT_GRANT_TYPES} when absent. */
  grantTypes?: string[];
  /** Its authorization requests must be pushed first (RFC 9126); plain ones are refused. */
  requirePar?: boolean;
  /** Whether every token request must carry a DPoP proof, so its tokens are DPoP-bound. */
  dpopBound?: boolean;
}

/** Why a registration cannot be made, or undefined when it can. */
export function registrationProblem(
  registration: ClientRegistration,
  { supportedScopes, reservedIds }: { supportedScopes: readonly string[]; reservedIds: string[] },
): string | undefined {
  const { clientId, name } = registration;
  if (!CLIENT_ID.test(clientId)) {
    return "Client id must be 1 to 128 printable ASCII characters without spaces";
  }
  if (reservedIds.includes(clientId)) {
    return `Client id "${clientId}" is taken by the configuration`;
  }
  if (name !== undefined && (name.length > MAX_NAME_LENGTH || /[\p{Cc}]/u.test(name))) {
    return `Name must be at most ${MAX_NAME_LENGTH} characters without control characters`;
  }
  const grants: readonly string[] = registration.grantTypes ?? DEFAULT_GRANT_TYPES;
  for (const grant of grants) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
      return `Unknown grant type "${grant}"; use ${GRANT_TYPES.join(", ")}`;
    }
  }
  if (grants.includes("client_credentials") && registration.public) {
    return "A public client cannot use client_credentials: it has no secret";
  }
  if (registration.requirePar && !grants.includes("authorization_code")) {
    return "--require-par needs the authorization_code grant: only its requests are pushed";
  }
  if (grants.includes("authorization_code") && registration.redirectUris.length === 0) {
    return "The authorization_code grant needs at least one --redirect-uri";
  }
  for (const uri of [...registration.redirectUris, ...registration.postLogoutRedirectUris]) {
    const problem = redirectUriProblem(uri);
    if (problem) return problem;
  }
  for (const scope of scopeTokens(registration.scope ?? "")) {
    if (!supportedScopes.includes(scope)) {
      return `Scope "${scope}" is not supported; choose from ${supportedScopes.join(", ")}`;
    }
  }
  return undefined;
}

/** The record of a valid registration, and the secret of a confidential client (shown once). */
export async function newClientRecord(
  registration: ClientRegistration,
  supportedScopes: readonly string[],
): Promise<{ record: ClientRecord; secret?: string }> {
  const secret = registration.public ? undefined : randomSecret();
  const scope = registration.scope?.trim() ? registration.scope : supportedScopes.join(" ");
  return {
    record: {
      clientId: registration.clientId,
      name: registration.name ?? null,
      secretHash: secret === undefined ? null : await sha256Hex(secret),
      redirectUris: [...new Set(registration.redirectUris)],
      postLogoutRedirectUris: [...new Set(registration.postLogoutRedirectUris)],
      firstParty: registration.firstParty,
      scope: scopeTokens(scope).join(" "),
      grantTypes: [...new Set(registration.grantTypes ?? DEFAULT_GRANT_TYPES)],
      createdAt: unixNow(),
      requirePar: registration.requirePar === true,
      dpopBound: registration.dpopBound ?? false,
    },
    ...(secret !== undefined && { secret }),
  };
}

/** A new secret for a confidential client, and the hash to store. */
export async function newClientSecret(): Promise<{ secret: string; secretHash: string }> {
  const secret = randomSecret();
  return { secret, secretHash: await sha256Hex(secret) };
}
