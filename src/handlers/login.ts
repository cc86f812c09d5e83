/**
 * @module
 * `POST /login`: the original tutorial's password login, in its JSON shape.
 */
import type { PasswordLogin } from "../auth/password_login.ts";
import type { SessionService } from "../auth/sessions.ts";
import { type BodyLimits, readJsonBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { HttpError } from "../http/errors.ts";
import { tokenResponse } from "./_token_response.ts";

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
    const user = await passwordLogin.check(username, password, ctx.remoteAddress);
    return tokenResponse(await sessions.start(user, { clientId }), ctx);
  };
}
