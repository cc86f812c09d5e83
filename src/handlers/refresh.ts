/**
 * @module
 * `POST /refresh`: renews a refresh family, as flask_jwt_extended clients and JSON clients call it.
 */
import { AuthFailure } from "../auth/errors.ts";
import type { RefreshFamilies } from "../auth/tokens/refresh_families.ts";
import { parseAuthorization } from "../http/authorization.ts";
import { type BodyLimits, readJsonBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { originOf } from "./_authenticate.ts";
import { tokenResponse } from "./_token_response.ts";

/**
 * `POST /refresh` with the refresh token as `{"refresh_token": "..."}` or, as
 * flask_jwt_extended clients send it, `Authorization: Bearer <refresh token>`: a new access
 * token and a new refresh token; the old one stops working. It takes no client credentials, so
 * it refuses tokens of confidential clients (those go to `/oauth/token`). Errors carry `msg` and
 * the OAuth `error` code.
 */
export function createRefreshHandler(
  { families, bodyLimits }: { families: RefreshFamilies; bodyLimits: BodyLimits },
): Handler {
  return async function refresh(req, ctx) {
    const authorization = parseAuthorization(req.headers.get("authorization"));
    let token: string | undefined;
    if (authorization.scheme === "bearer") {
      token = authorization.token;
      await req.body?.cancel();
    } else {
      const body = await readJsonBody(req, bodyLimits);
      const field = typeof body === "object" && body !== null
        ? (body as Record<string, unknown>).refresh_token
        : undefined;
      if (typeof field === "string") token = field;
    }
    if (!token) throw new AuthFailure("invalid_request", "Missing refresh token");
    return tokenResponse(await families.refresh(token, { origin: originOf(ctx) }), ctx);
  };
}
