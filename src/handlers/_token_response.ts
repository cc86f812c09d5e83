/**
 * @module
 * The RFC 6749 §5.1 success answer of every endpoint that issues tokens, with the device token
 * of a password login.
 */
import type { TokenPair } from "../auth/sessions.ts";
import type { RequestContext } from "../http/context.ts";
import { readCookie, strictCookie } from "../http/cookies.ts";
import { json } from "../http/json.ts";

/** The cookie that carries a device token. */
export const DEVICE_COOKIE = "__Host-device";

/** A device token to hand to the client with its tokens. */
export interface IssuedDevice {
  token: string;
  maxAgeSeconds: number;
}

/**
 * The answer shared by `/login`, `/refresh` and `/oauth/token`; records the token's subject in
 * the request context for the access log. A device token goes both in the body (`device_token`,
 * for API clients) and in the `__Host-device` cookie (for browsers).
 */
export function tokenResponse(
  pair: TokenPair,
  ctx: RequestContext,
  device?: IssuedDevice,
): Response {
  ctx.user = pair.claims.sub;
  const headers: Record<string, string> = { "cache-control": "no-store", pragma: "no-cache" };
  if (device) {
    headers["set-cookie"] = strictCookie(DEVICE_COOKIE, device.token, device.maxAgeSeconds);
  }
  return json({
    access_token: pair.accessToken,
    token_type: "Bearer",
    expires_in: pair.expiresIn,
    refresh_token: pair.refreshToken,
    scope: pair.scope,
    ...(device && { device_token: device.token }),
  }, { headers });
}

/** The device token a password login presents: the `device_token` field, else the cookie. */
export function presentedDeviceToken(req: Request, field: unknown): unknown {
  return field ?? readCookie(req.headers.get("cookie"), DEVICE_COOKIE);
}
