/**
 * @module
 * `POST /login`: the original tutorial's password login, in its JSON shape.
 */
import type { PasswordLogin } from "../auth/accounts/password_login.ts";
import type { RefreshFamilies } from "../auth/tokens/refresh_families.ts";
import { type BodyLimits, readJsonBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { HttpError } from "../http/errors.ts";
import { originOf } from "./_authenticate.ts";
import { deviceLabel, presentedDeviceToken, tokenResponse } from "./_token_response.ts";

/** What the login handler needs. */
export interface LoginDeps {
  passwordLogin: PasswordLogin;
  families: RefreshFamilies;
  /** Client id recorded for refresh families started here (the first-party client). */
  clientId: string;
  bodyLimits: BodyLimits;
}

/**
 * `POST /login` with `{"username", "password"}` (and optionally `"device_token"`, or the
 * device cookie): 200 with an access, a refresh and a device token, or 400
 * `{"msg": "Invalid credentials"}` that looks and takes the same whichever part was wrong.
 */
export function createLoginHandler(deps: LoginDeps): Handler {
  const { passwordLogin, families, clientId, bodyLimits } = deps;
  return async function login(req, ctx) {
    const body = await readJsonBody(req, bodyLimits);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "Request body must be a JSON object");
    }
    const { username, password, device_token: deviceToken } = body as Record<string, unknown>;
    const login = await passwordLogin.check(username, password, {
      address: ctx.addressGroup,
      deviceToken: presentedDeviceToken(req, deviceToken),
      deviceLabel: deviceLabel(req),
      clientId,
      origin: originOf(ctx),
    });
    return tokenResponse(await families.start(login, { clientId }), ctx, login.device);
  };
}
