/**
 * @module
 * `POST /oauth/token`: the OAuth 2.0 token endpoint.
 */
import type { ClientRegistry } from "../auth/clients.ts";
import { AuthFailure } from "../auth/errors.ts";
import type { PasswordLogin } from "../auth/password_login.ts";
import type { SessionService } from "../auth/sessions.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { formParameter } from "../http/form.ts";
import { authenticateClient, originOf } from "./_authenticate.ts";
import { presentedDeviceToken, tokenResponse } from "./_token_response.ts";

/** What the token endpoint needs. */
export interface OAuthTokenDeps {
  passwordLogin: PasswordLogin;
  sessions: SessionService;
  clients: ClientRegistry;
  bodyLimits: BodyLimits;
}

/**
 * `POST /oauth/token` (RFC 6749): the resource owner password credentials grant (§4.3) and the
 * refresh token grant (§6), form-encoded, with §5.1 answers and §5.2 errors.
 */
export function createOAuthTokenHandler(deps: OAuthTokenDeps): Handler {
  const { passwordLogin, sessions, clients, bodyLimits } = deps;
  return async function token(req, ctx) {
    const form = await readFormBody(req, bodyLimits);
    const grantType = formParameter(form, "grant_type");
    const scope = formParameter(form, "scope");
    const client = await authenticateClient(req, ctx, { form, clients });
    if (grantType === "password") {
      const login = await passwordLogin.check(
        formParameter(form, "username"),
        formParameter(form, "password"),
        {
          address: ctx.addressGroup,
          deviceToken: presentedDeviceToken(req, formParameter(form, "device_token")),
          clientId: client.clientId,
          origin: originOf(ctx),
        },
      );
      const pair = await sessions.start(login, { clientId: client.clientId, scope });
      return tokenResponse(pair, ctx, {
        token: login.deviceToken,
        maxAgeSeconds: login.deviceTokenExpiresIn,
      });
    }
    if (grantType === "refresh_token") {
      const refreshToken = formParameter(form, "refresh_token");
      if (!refreshToken) throw new AuthFailure("invalid_request", "Missing refresh_token");
      const pair = await sessions.refresh(refreshToken, { client, scope, origin: originOf(ctx) });
      return tokenResponse(pair, ctx);
    }
    if (grantType === undefined) throw new AuthFailure("invalid_request", "Missing grant_type");
    throw new AuthFailure("unsupported_grant_type", `Grant type "${grantType}" is not supported`);
  };
}
