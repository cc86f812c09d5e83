import type { ClientRegistry } from "../auth/clients.ts";
import { LoginError, type PasswordLogin } from "../auth/password_login.ts";
import type { SessionService } from "../auth/sessions.ts";
import type { Handler } from "../http/context.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import { OAuthError } from "../http/errors.ts";
import { formParameter } from "../http/form.ts";
import { tokenResponse } from "./token_response.ts";

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
    const client = await clients.identify(req, form);
    if (grantType === "password") {
      let user: string;
      try {
        user = await passwordLogin.check(
          formParameter(form, "username"),
          formParameter(form, "password"),
          ctx.remoteAddress,
        );
      } catch (error) {
        throw grantFailure(error);
      }
      ctx.user = user;
      return tokenResponse(await sessions.start(user, { clientId: client.clientId, scope }));
    }
    if (grantType === "refresh_token") {
      const refreshToken = formParameter(form, "refresh_token");
      if (!refreshToken) throw new OAuthError("invalid_request", "Missing refresh_token");
      const pair = await sessions.refresh(refreshToken, { clientId: client.clientId, scope });
      ctx.user = pair.claims.sub;
      return tokenResponse(pair);
    }
    if (grantType === undefined) throw new OAuthError("invalid_request", "Missing grant_type");
    throw new OAuthError("unsupported_grant_type", `Grant type "${grantType}" is not supported`);
  };
}

function grantFailure(error: unknown): unknown {
  if (!(error instanceof LoginError)) return error;
  if (error.reason === "throttled") {
    return new OAuthError(
      "temporarily_unavailable",
      "Too many failed login attempts; try again later",
      {
        status: 429,
        headers: { "retry-after": String(error.retryAfter) },
      },
    );
  }
  return new OAuthError("invalid_grant", "Invalid credentials");
}
