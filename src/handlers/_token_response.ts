/**
 * @module
 * The RFC 6749 §5.1 success answer of every endpoint that issues tokens, with the device token
 * of a password login and the ID token of the authorization code grant.
 */
import type { IssuedDevice } from "../auth/accounts/password_login.ts";
import type { GrantResult } from "../auth/clients/grants.ts";
import type { TokenPair } from "../auth/tokens/refresh_families.ts";
import type { RequestContext } from "../http/context.ts";
import { readCookie, strictCookie } from "../http/cookies.ts";
import { json } from "../http/json.ts";
import type { TokenBinding } from "./_dpop.ts";

/** The cookie that carries a device token. */
export const DEVICE_COOKIE = "__Host-device";

/**
 * The answer shared by `/login`, `/refresh` and `/oauth/token`; records the token's user in
 * the request context for the access log. A device token goes both in the body (`device_token`,
 * for API clients) and in the `__Host-device` cookie (for browsers).
 */
export function tokenResponse(
  pair: TokenPair,
  ctx: RequestContext,
  device?: IssuedDevice,
  binding?: TokenBinding,
): Response {
  return grantResponse(
    {
      accessToken: pair.accessToken,
      expiresIn: pair.expiresIn,
      scope: pair.scope,
      username: pair.claims.preferred_username,
      refreshToken: pair.refreshToken,
    },
    ctx,
    device,
    binding,
  );
}

/**
 * The answer of every grant: a refresh token, an OpenID Connect `id_token` and a device token
 * when the grant issued them; `token_type` `DPoP` for tokens bound to a DPoP key (RFC 9449 §5),
 * with the nonce for the next proof when nonces are required.
 */
export function grantResponse(
  grant: GrantResult,
  ctx: RequestContext,
  device?: IssuedDevice,
  binding: TokenBinding = {},
): Response {
  ctx.user = grant.username;
  const headers: Record<string, string> = { "cache-control": "no-store", pragma: "no-cache" };
  if (device) headers["set-cookie"] = deviceCookie(device);
  if (binding.nonce !== undefined) headers["dpop-nonce"] = binding.nonce;
  return json({
    access_token: grant.accessToken,
    token_type: binding.dpop ? "DPoP" : "Bearer",
    expires_in: grant.expiresIn,
    ...(grant.refreshToken !== undefined && { refresh_token: grant.refreshToken }),
    scope: grant.scope,
    ...(grant.idToken !== undefined && { id_token: grant.idToken }),
    ...(device && { device_token: device.token }),
  }, { headers });
}

/** The `Set-Cookie` value that hands a browser its device token. */
export function deviceCookie(device: IssuedDevice): string {
  return strictCookie(DEVICE_COOKIE, device.token, device.maxAgeSeconds);
}

/** What a client says it is, as a remembered device is named: its User-Agent, printable, short. */
export function deviceLabel(req: Request): string {
  const agent = (req.headers.get("user-agent") ?? "").replace(/\p{C}+/gu, " ").trim();
  return agent.slice(0, MAX_DEVICE_LABEL_LENGTH) || "Unnamed device";
}

const MAX_DEVICE_LABEL_LENGTH = 120;

/** The device token a password login presents: the `device_token` field, else the cookie. */
export function presentedDeviceToken(req: Request, field?: unknown): unknown {
  return field ?? readCookie(req.headers.get("cookie"), DEVICE_COOKIE);
}
