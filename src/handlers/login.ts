import { LoginError, type PasswordLogin } from "../auth/password_login.ts";
import type { SessionService } from "../auth/sessions.ts";
import type { Handler } from "../http/context.ts";
import { type BodyLimits, readJsonBody } from "../http/body.ts";
import { HttpError } from "../http/errors.ts";
import { tokenResponse } from "./token_response.ts";

/** What the login handler needs. */
export interface LoginDeps {
  passwordLogin: PasswordLogin;
  sessions: SessionService;
  /** Client id recorded for sessions started here (the first-party client). */
  clientId: string;
  bodyLimits: BodyLimits;
}

/**
 * `POST /login` with `{"username", "password"}`: 200 with an access and a refresh token, or
 * 400 `{"msg": "Invalid credentials"}` that looks and takes the same whichever part was wrong.
 */
export function createLoginHandler(deps: LoginDeps): Handler {
  const { passwordLogin, sessions, clientId, bodyLimits } = deps;
  return async function login(req, ctx) {
    const body = await readJsonBody(req, bodyLimits);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "Request body must be a JSON object");
    }
    const { username, password } = body as Record<string, unknown>;
    let user: string;
    try {
      user = await passwordLogin.check(username, password, ctx.remoteAddress);
    } catch (error) {
      throw loginFailure(error);
    }
    ctx.user = user;
    return tokenResponse(await sessions.start(user, { clientId }));
  };
}

/** Maps a LoginError to the Flask-compatible answers: 400 Invalid credentials, or 429. */
function loginFailure(error: unknown): unknown {
  if (!(error instanceof LoginError)) return error;
  if (error.reason === "throttled") {
    return new HttpError(429, "Too many failed login attempts; try again later", {
      headers: { "retry-after": String(error.retryAfter) },
    });
  }
  return new HttpError(400, "Invalid credentials");
}
