import type { SessionService } from "../auth/sessions.ts";
import type { Handler } from "../http/context.ts";
import { type BodyLimits, readJsonBody } from "../http/body.ts";
import { HttpError, OAuthError } from "../http/errors.ts";
import { tokenResponse } from "./token_response.ts";

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * `POST /refresh` with the refresh token as `{"refresh_token": "..."}` or, as
 * flask_jwt_extended clients send it, `Authorization: Bearer <refresh token>`: a new access
 * token and a new refresh token; the old one stops working.
 */
export function createRefreshHandler(
  { sessions, bodyLimits }: { sessions: SessionService; bodyLimits: BodyLimits },
): Handler {
  return async function refresh(req, ctx) {
    let token = BEARER.exec(req.headers.get("authorization") ?? "")?.[1];
    if (token === undefined) {
      const body = await readJsonBody(req, bodyLimits);
      const field = typeof body === "object" && body !== null
        ? (body as Record<string, unknown>).refresh_token
        : undefined;
      if (typeof field === "string") token = field;
    } else {
      await req.body?.cancel();
    }
    if (!token) {
      throw new HttpError(400, "Missing refresh token", {
        body: { msg: "Missing refresh token", error: "invalid_request" },
      });
    }
    try {
      const pair = await sessions.refresh(token);
      ctx.user = pair.claims.sub;
      return tokenResponse(pair);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      throw new HttpError(error.status, error.message, {
        body: { msg: error.message, error: error.code },
      });
    }
  };
}
