/**
 * @module
 * Reading an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core
 * §3.1.2.1) in two stages: first the client and redirect URI, whose problems must never be
 * redirected (`unknown_client`, `unregistered_redirect_uri`); then the rest, whose problems are
 * redirected to that URI. It speaks in domain errors and never builds a response.
 */
import { MAX_USERNAME_LENGTH } from "../accounts/credentials.ts";
import { requireGrant } from "../clients/grants.ts";
import type { RegisteredClient } from "../clients/registry.ts";
import { asksTwoFactors } from "./authentication_context.ts";
import { AuthFailure } from "../errors.ts";
import { hasParameter, type RequestParameters, singleParameter } from "../parameters.ts";
import { CODE_CHALLENGE_METHOD, isCodeChallenge } from "./pkce.ts";
import { grantScope, type ScopePolicy, scopeTokens } from "../scopes.ts";

/** The `prompt` values supported (OpenID Connect Core §3.1.2.1). */
export const PROMPT_VALUES = ["none", "login", "consent"] as const;
/** One `prompt` value. */
export type Prompt = typeof PROMPT_VALUES[number];

/** Longest `state` or `nonce` accepted. */
const MAX_OPAQUE_LENGTH = 1024;
/** A SHA-256 JWK thumbprint, base64url (RFC 7638). */
const JWK_THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;
/** Printable ASCII, as RFC 6749 Appendix A asks of `state`. */
const OPAQUE_VALUE = /^[\x20-\x7e]+$/;

/** A validated authorization request; kept as JSON while the user signs in. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  /** Space-separated scopes to grant. */
  scope: string;
  codeChallenge: string;
  state?: string;
  nonce?: string;
  prompt: Prompt[];
  /** Seconds since the last password entry beyond which the user must sign in again. */
  maxAge?: number;
  /** A username to fill in. */
  loginHint?: string;
  /** Whether `acr_values` asks for a sign-in with two factors (step-up). */
  twoFactors?: boolean;
  /**
   * A device authorization (RFC 8628) being answered, by its key and user code: after sign-in
   * the person confirms it instead of a code going to `redirectUri` (then our own device page).
   */
  device?: { codeHash: string; userCode: string };
  /**
   * A sign-in to this service's own account page: no client and no code; once signed in, the
   * browser goes back to `redirectUri` (the page).
   */
  account?: true;
  /** The DPoP key the code is bound to (`dpop_jkt`, RFC 9449 §10): redeemed only with its proof. */
  dpopJkt?: string;
}

/** Where the answer to a request goes, once the client and redirect URI are known. */
export interface RedirectTarget {
  redirectUri: string;
  state?: string;
}

/** The client of a request and where its answer may go. */
export interface ResolvedClient {
  client: RegisteredClient;
  target: RedirectTarget;
}

/**
 * Stage one: the registered client and its exactly matching redirect URI. Throws
 * `unknown_client` or `unregistered_redirect_uri`, which must be shown, never redirected.
 */
export async function resolveClient(
  params: RequestParameters,
  clients: { require(clientId: string): Promise<RegisteredClient> },
): Promise<ResolvedClient> {
  const clientId = singleParameter(params, "client_id", "unknown_client");
  if (clientId === undefined) {
    throw new AuthFailure("unknown_client", "The request names no client");
  }
  const client = await clients.require(clientId);
  const redirectUri = singleParameter(params, "redirect_uri", "unregistered_redirect_uri");
  if (redirectUri === undefined) {
    throw new AuthFailure("unregistered_redirect_uri", "The request names no redirect_uri");
  }
  if (!client.redirectUris.includes(redirectUri)) {
    throw new AuthFailure(
      "unregistered_redirect_uri",
      `The redirect_uri is not registered for client "${clientId}"`,
    );
  }
  const state = params.values.get("state");
  return { client, target: { redirectUri, ...(state !== undefined && { state }) } };
}

/**
 * Stage two: everything else, for a resolved client. Throws the errors to be redirected:
 * `invalid_request`, `unsupported_response_type`, `unauthorized_client`, `invalid_scope`,
 * `request_not_supported`, `request_uri_not_supported`.
 */
export function readAuthorizationRequest(
  params: RequestParameters,
  { client, target }: ResolvedClient,
  policy: ScopePolicy,
): AuthorizationRequest {
  const param = (name: string) => singleParameter(params, name);
  // A repeated state is refused first: it was left out of the redirect target.
  param("state");
  if (hasParameter(params, "request")) {
    throw new AuthFailure("request_not_supported", "Request objects are not supported");
  }
  if (hasParameter(params, "request_uri")) {
    throw new AuthFailure("request_uri_not_supported", "request_uri is not supported");
  }
  const responseType = param("response_type");
  if (responseType === undefined) throw invalidRequest("response_type is required");
  if (responseType !== "code") {
    throw new AuthFailure(
      "unsupported_response_type",
      'Only response_type "code" is supported (no implicit or hybrid flows)',
    );
  }
  // A browser names its client, never authenticates it: the registration alone decides.
  const named = { clientId: client.clientId, authenticated: false, registered: client };
  requireGrant(named, "authorization_code", "the authorization code flow");
  const responseMode = param("response_mode");
  if (responseMode !== undefined && responseMode !== "query") {
    throw invalidRequest('Only response_mode "query" is supported');
  }
  const codeChallenge = param("code_challenge");
  const method = param("code_challenge_method");
  if (codeChallenge === undefined) throw invalidRequest("code_challenge is required (PKCE)");
  if (method !== CODE_CHALLENGE_METHOD) {
    throw invalidRequest(`code_challenge_method must be "${CODE_CHALLENGE_METHOD}"`);
  }
  if (!isCodeChallenge(codeChallenge)) throw invalidRequest("Malformed code_challenge");
  const state = opaque(param("state"), "state");
  const nonce = opaque(param("nonce"), "nonce");
  const loginHint = param("login_hint");
  const dpopJkt = param("dpop_jkt");
  if (dpopJkt !== undefined && !JWK_THUMBPRINT.test(dpopJkt)) {
    throw invalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint");
  }
  return {
    clientId: client.clientId,
    redirectUri: target.redirectUri,
    scope: grantScope(param("scope"), policy, { registered: client.scope }),
    codeChallenge,
    ...(state !== undefined && { state }),
    ...(nonce !== undefined && { nonce }),
    prompt: prompts(param("prompt")),
    ...maxAge(param("max_age")),
    ...(loginHint !== undefined && loginHint.length <= MAX_USERNAME_LENGTH && { loginHint }),
    ...(asksTwoFactors(param("acr_values")) && { twoFactors: true }),
    ...(dpopJkt !== undefined && { dpopJkt }),
  };
}

function prompts(value: string | undefined): Prompt[] {
  if (value === undefined) return [];
  const values = scopeTokens(value);
  for (const prompt of values) {
    if (!(PROMPT_VALUES as readonly string[]).includes(prompt)) {
      throw invalidRequest(`Unsupported prompt value "${prompt}"`);
    }
  }
  if (values.includes("none") && values.length > 1) {
    throw invalidRequest('prompt "none" cannot be combined with other values');
  }
  return values as Prompt[];
}

function maxAge(value: string | undefined): { maxAge?: number } {
  if (value === undefined) return {};
  if (!/^\d{1,9}$/.test(value)) throw invalidRequest("max_age must be a whole number of seconds");
  return { maxAge: Number(value) };
}

function opaque(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length > MAX_OPAQUE_LENGTH || !OPAQUE_VALUE.test(value)) {
    throw invalidRequest(`${name} must be at most ${MAX_OPAQUE_LENGTH} printable characters`);
  }
  return value;
}

function invalidRequest(message: string): AuthFailure {
  return new AuthFailure("invalid_request", message);
}
