/**
 * @module
 * `POST /oauth/token`: the OAuth 2.0 token endpoint.
 */
import type { AuthorizationCodes } from "../auth/sign_in/authorization_codes.ts";
import { clientCredentialsGrant } from "../auth/clients/client_credentials.ts";
import { DEVICE_CODE_GRANT } from "../auth/clients/grants.ts";
import type { DeviceAuthorizations } from "../auth/sign_in/device_authorizations.ts";
import type { ClientRegistry } from "../auth/clients/registry.ts";
import { AuthFailure } from "../auth/errors.ts";
import { singleParameter } from "../auth/parameters.ts";
import type { PasswordLogin } from "../auth/accounts/password_login.ts";
import type { ScopePolicy } from "../auth/scopes.ts";
import { passwordGrant } from "../auth/tokens/password_grant.ts";
import type { RefreshFamilies } from "../auth/tokens/refresh_families.ts";
import type { AccessTokens } from "../auth/tokens/access_tokens.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readParameters } from "../http/form.ts";
import { authenticateClient, originOf } from "./_authenticate.ts";
import {
  deviceLabel,
  grantResponse,
  presentedDeviceToken,
  tokenResponse,
} from "./_token_response.ts";
import type { DpopProofs } from "../auth/tokens/dpop_proofs.ts";
import { tokenRequestBinding } from "./_dpop.ts";

/** What the token endpoint needs. */
export interface OAuthTokenDeps {
  passwordLogin: PasswordLogin;
  families: RefreshFamilies;
  clients: ClientRegistry;
  bodyLimits: BodyLimits;
  codes: AuthorizationCodes;
  tokens: AccessTokens;
  /** Scopes, with `openid` and `profile`, for the password and client credentials grants. */
  policy: ScopePolicy;
  /** The device authorization grant's codes (RFC 8628). */
  devices: DeviceAuthorizations;
  /** DPoP proof checks (RFC 9449), made for every grant. */
  dpop: DpopProofs;
}

/**
 * `POST /oauth/token` (RFC 6749): the authorization code grant (§4.1.3, with PKCE), the client
 * credentials grant (§4.4), the resource owner password credentials grant (§4.3) and the
 * refresh token grant (§6) and the device authorization grant (RFC 8628 §3.4), form-encoded,
 * with §5.1 answers and §5.2 errors. A registered client may use only the grants it was
 * registered with. Every grant takes a DPoP proof, which binds its tokens to the proof's key.
 */
export function createOAuthTokenHandler(deps: OAuthTokenDeps): Handler {
  const { passwordLogin, families, clients, bodyLimits, codes, tokens, policy, devices, dpop } =
    deps;
  return async function token(req, ctx) {
    const params = readParameters(await readFormBody(req, bodyLimits));
    const param = (name: string) => singleParameter(params, name);
    const grantType = param("grant_type");
    const scope = param("scope");
    const client = await authenticateClient(req, ctx, { params, clients });
    const binding = await tokenRequestBinding(req, ctx, { dpop, client });
    if (grantType === "authorization_code") {
      const grant = await codes.redeem(param("code"), {
        client,
        redirectUri: param("redirect_uri"),
        codeVerifier: param("code_verifier"),
        origin: originOf(ctx),
        dpop: binding.dpop,
      });
      return grantResponse(grant, ctx, undefined, binding);
    }
    if (grantType === "client_credentials") {
      const grant = await clientCredentialsGrant(client, scope, {
        tokens,
        policy,
        jkt: binding.dpop?.jkt,
      });
      return grantResponse(grant, ctx, undefined, binding);
    }
    if (grantType === "password") {
      const { login, pair } = await passwordGrant(client, {
        username: param("username"),
        password: param("password"),
        scope,
        dpop: binding.dpop,
        source: {
          address: ctx.addressGroup,
          deviceToken: presentedDeviceToken(req, param("device_token")),
          deviceLabel: deviceLabel(req),
          origin: originOf(ctx),
        },
      }, { passwordLogin, families, policy });
      return tokenResponse(pair, ctx, login.device, binding);
    }
    if (grantType === "refresh_token") {
      const refreshToken = param("refresh_token");
      if (!refreshToken) throw new AuthFailure("invalid_request", "Missing refresh_token");
      const pair = await families.refresh(refreshToken, {
        client,
        scope,
        origin: originOf(ctx),
        jkt: binding.dpop?.jkt,
      });
      return tokenResponse(pair, ctx, undefined, binding);
    }
    if (grantType === DEVICE_CODE_GRANT) {
      const deviceCode = param("device_code");
      const grant = await devices.redeem(deviceCode, {
        client,
        origin: originOf(ctx),
        dpop: binding.dpop,
      });
      return grantResponse(grant, ctx, undefined, binding);
    }
    if (grantType === undefined) throw new AuthFailure("invalid_request", "Missing grant_type");
    throw new AuthFailure("unsupported_grant_type", `Grant type "${grantType}" is not supported`);
  };
}
