/**
 * @module
 * The route table of the HTTPS service behind the common edge: which handler answers which path
 * and method, and in which dialect each route's errors are answered. It assembles the browser
 * flows from the sign-in services and builds nothing else.
 */
import type { PasswordLogin } from "./auth/accounts/password_login.ts";
import type { SecondFactors } from "./auth/accounts/second_factors.ts";
import type { ClientRegistry } from "./auth/clients/registry.ts";
import type { ScopePolicy } from "./auth/scopes.ts";
import type { AuthorizationCodes } from "./auth/sign_in/authorization_codes.ts";
import type { BrowserSessions } from "./auth/sign_in/browser_sessions.ts";
import type { Consents } from "./auth/sign_in/consents.ts";
import { SignInFlow } from "./auth/sign_in/flow.ts";
import type { IdTokens } from "./auth/sign_in/id_tokens.ts";
import type { PendingRequests } from "./auth/sign_in/pending_requests.ts";
import type { PushedRequests } from "./auth/sign_in/pushed_requests.ts";
import { SignOut } from "./auth/sign_in/sign_out.ts";
import type { AccessClaims, AccessTokens } from "./auth/tokens/access_tokens.ts";
import type { DpopProofs } from "./auth/tokens/dpop_proofs.ts";
import type { RefreshFamilies } from "./auth/tokens/refresh_families.ts";
import type { SigningKeys } from "./auth/tokens/signing_keys.ts";
import type { Config, PublicIdentity } from "./config.ts";
import { createErrorAnswers } from "./error_answers.ts";
import { createAuthorizeHandler } from "./handlers/authorize.ts";
import { createConsentHandler } from "./handlers/consent.ts";
import { createJwksHandler, createMetadataHandler } from "./handlers/discovery.ts";
import { createEndSessionHandler, createSignOutHandler } from "./handlers/end_session.ts";
import {
  createLivenessHandler,
  createReadinessHandler,
  type ReadinessProbe,
} from "./handlers/health.ts";
import { createHelloHandler } from "./handlers/hello.ts";
import { createLoginHandler } from "./handlers/login.ts";
import { createLogoutHandler } from "./handlers/logout.ts";
import { createOAuthIntrospectHandler } from "./handlers/oauth_introspect.ts";
import { createOAuthRevokeHandler } from "./handlers/oauth_revoke.ts";
import { createOAuthTokenHandler } from "./handlers/oauth_token.ts";
import { createRefreshHandler } from "./handlers/refresh.ts";
import { createSignInHandler } from "./handlers/sign_in.ts";
import {
  createContinueSignInHandler,
  createSecondFactorHandler,
} from "./handlers/second_factor.ts";
import { createAccountHandlers } from "./handlers/account.ts";
import { ACCOUNT_SIGN_IN_PATH, createAccountSignInHandler } from "./handlers/account_sign_in.ts";
import { AccountSettings } from "./auth/sign_in/account_settings.ts";
import type { AccountSessions } from "./auth/sign_in/account_sessions.ts";
import type { PasswordChange } from "./auth/accounts/password_change.ts";
import { createStylesheetHandler } from "./handlers/stylesheet.ts";
import { createUserInfoHandler } from "./handlers/userinfo.ts";
import { createOAuthParHandler } from "./handlers/oauth_par.ts";
import { createClientAddressResolver } from "./http/client_address.ts";
import { createEdge, type RequestObserver, type ServeHandler } from "./http/edge.ts";
import type { Logger } from "./log.ts";
import { STYLESHEET_PATH } from "./pages/stylesheet.ts";
import type { Passkeys } from "./auth/accounts/passkeys.ts";
import { PasskeySignIn } from "./auth/sign_in/passkey_sign_in.ts";
import { createAccountPasskeyHandlers } from "./handlers/account_passkeys.ts";
import { createPasskeySignInHandlers } from "./handlers/passkey_sign_in.ts";
import { createPasskeysScriptHandler } from "./handlers/passkeys_script.ts";
import { PASSKEYS_SCRIPT_PATH } from "./pages/passkeys_script.ts";
import { createRouter, route } from "./router.ts";
import type { DeviceAuthorizations } from "./auth/sign_in/device_authorizations.ts";
import { DeviceVerification } from "./auth/sign_in/device_verification.ts";
import type { UserCodeThrottle } from "./auth/sign_in/user_code_throttle.ts";
import { createDeviceHandlers } from "./handlers/device.ts";
import { createDeviceAuthorizationHandler } from "./handlers/oauth_device_authorization.ts";
import { DEVICE_CONFIRM_PATH, DEVICE_PATH } from "./pages/device.ts";

/** The services of sign-in from browsers and other apps. */
export interface SignInServices {
  /** Scopes, with `openid` and `profile`. */
  policy: ScopePolicy;
  idTokens: IdTokens;
  pending: PendingRequests;
  browserSessions: BrowserSessions;
  consents: Consents;
  codes: AuthorizationCodes;
  /** Second factors: asked for after the password, enrolled on the account page. */
  secondFactors: SecondFactors;
  /** A person's own sessions, listed and ended on the account page. */
  accountSessions: AccountSessions;
  /** A person changing their own password on the account page. */
  passwordChange: PasswordChange;
  /** The `/userinfo` answer for a token's claims. */
  userInfo: (claims: AccessClaims) => Promise<Record<string, string>>;
  /** Authorization requests pushed before the browser is sent (RFC 9126). */
  pushed: PushedRequests;
  /** Device authorizations (RFC 8628) and the device page's throttle against code guessing. */
  devices: DeviceAuthorizations;
  userCodeThrottle: UserCodeThrottle;
  /** Passkeys: signing in with one, as a second factor, and registering them. */
  passkeys: Passkeys;
}

/** The services the routes are built from. */
export interface AppDeps {
  config: Config;
  identity: PublicIdentity;
  logger: Logger;
  keys: SigningKeys;
  tokens: AccessTokens;
  passwordLogin: PasswordLogin;
  families: RefreshFamilies;
  clients: ClientRegistry;
  signIn: SignInServices;
  /** What `/health/ready` checks. */
  readiness: ReadinessProbe;
  /** Told of every request when metrics are on. */
  observer?: RequestObserver;
  /** Whether the HTTPS listener is closing (see the edge's `closing`). */
  closing?: () => boolean;
  /** DPoP proof checks (RFC 9449) of the token endpoint and the protected resources. */
  dpop: DpopProofs;
}

/** Builds the HTTPS request handler: the route table behind the common edge. */
export function createApp(deps: AppDeps): ServeHandler {
  const { config, identity, logger, keys, tokens, passwordLogin, families, clients, signIn } = deps;
  const { dpop } = deps;
  const health = { accessLog: config.logHealthChecks };
  const bodyLimits = { maxBytes: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs };
  const oauth = { families, clients, bodyLimits };
  const answers = createErrorAnswers(config.realm);
  const signInFlow = new SignInFlow({
    ...signIn,
    clients,
    passwordLogin,
    mfaRequired: config.mfaRequired,
    parRequired: config.parRequired,
    passkeys: signIn.passkeys,
  });
  const signOutFlow = new SignOut({ ...signIn, clients });
  const pages = { issuer: identity.issuer, wording: answers, bodyLimits };
  const page = { errors: "page" } as const;
  const accountSettings = new AccountSettings({ ...signIn, sessions: signIn.accountSessions });
  const account = createAccountHandlers(accountSettings, pages);
  const accountPasskeys = createAccountPasskeyHandlers(accountSettings, pages);
  const passkeySignIn = createPasskeySignInHandlers(
    new PasskeySignIn({ ...signIn, flow: signInFlow }),
    pages,
  );
  const authorize = createAuthorizeHandler(signInFlow, pages);
  const endSession = createEndSessionHandler(signOutFlow, pages);
  const userinfo = createUserInfoHandler({ tokens, userInfo: signIn.userInfo, dpop });
  const metadata = createMetadataHandler({
    ...identity,
    keys,
    scopes: signIn.policy,
    parRequired: config.parRequired,
  });
  const verificationUri = `${identity.publicUrl}${DEVICE_PATH}`;
  const device = createDeviceHandlers(
    new DeviceVerification({
      ...signIn,
      flow: signInFlow,
      throttle: signIn.userCodeThrottle,
      clients,
      verificationUri,
    }),
    pages,
  );
  const dispatch = createRouter([
    route("/login", {
      POST: createLoginHandler({
        passwordLogin,
        families,
        clientId: config.defaultClientId,
        bodyLimits,
      }),
    }),
    route("/hello", { GET: createHelloHandler({ tokens, dpop }) }),
    route("/refresh", { POST: createRefreshHandler({ families, bodyLimits }) }, {
      errors: "flask_with_code",
    }),
    route("/logout", { POST: createLogoutHandler({ tokens, families, dpop }) }),
    route("/oauth/token", {
      POST: createOAuthTokenHandler({
        passwordLogin,
        ...oauth,
        codes: signIn.codes,
        tokens,
        policy: signIn.policy,
        devices: signIn.devices,
        dpop,
      }),
    }, { errors: "oauth" }),
    route("/oauth/revoke", { POST: createOAuthRevokeHandler(oauth) }, { errors: "oauth" }),
    route("/oauth/introspect", { POST: createOAuthIntrospectHandler(oauth) }, {
      errors: "oauth",
    }),
    route("/health/live", { GET: createLivenessHandler() }, health),
    route("/health/ready", { GET: createReadinessHandler(deps.readiness) }, health),
    route("/.well-known/jwks.json", {
      GET: createJwksHandler({ keys, idTokenKeys: signIn.idTokens.keys }),
    }),
    route("/.well-known/oauth-authorization-server", { GET: metadata }),
    route("/.well-known/openid-configuration", { GET: metadata }),
    route("/authorize", { GET: authorize, POST: authorize }, page),
    route("/sign-in", { POST: createSignInHandler(signInFlow, pages) }, page),
    route("/sign-in/second-factor", {
      POST: createSecondFactorHandler(signInFlow, pages),
    }, page),
    route("/sign-in/continue", { POST: createContinueSignInHandler(signInFlow, pages) }, page),
    route("/account", { GET: account.overview }, page),
    route(ACCOUNT_SIGN_IN_PATH, { GET: createAccountSignInHandler(signInFlow, pages) }, page),
    route("/account/totp", { POST: account.startTotp }, page),
    route("/account/totp/confirm", { POST: account.confirmTotp }, page),
    route("/account/recovery-codes", { POST: account.recoveryCodes }, page),
    route("/account/sign-out", { POST: account.signOut }, page),
    route("/account/password", { POST: account.changePassword }, page),
    route("/consent", { POST: createConsentHandler(signInFlow, pages) }, page),
    route("/userinfo", { GET: userinfo, POST: userinfo }, { errors: "oauth" }),
    route("/end-session", { GET: endSession, POST: endSession }, page),
    route("/sign-out", { POST: createSignOutHandler(signOutFlow, pages) }, page),
    route(STYLESHEET_PATH, { GET: createStylesheetHandler() }),
    route("/oauth/par", {
      POST: createOAuthParHandler({ pushed: signIn.pushed, clients, bodyLimits }),
    }, { errors: "oauth" }),
    route("/oauth/device_authorization", {
      POST: createDeviceAuthorizationHandler({
        devices: signIn.devices,
        clients,
        bodyLimits,
        verificationUri,
      }),
    }, { errors: "oauth" }),
    route(DEVICE_PATH, { GET: device.enter, POST: device.submit }, page),
    route(DEVICE_CONFIRM_PATH, { POST: device.confirm }, page),
    route("/sign-in/passkey", { POST: passkeySignIn.signIn }, page),
    route("/sign-in/second-factor/passkey", { POST: passkeySignIn.secondFactor }, page),
    route("/sign-in/second-factor/new-passkey", { POST: passkeySignIn.enrol }, page),
    route("/account/passkeys", { POST: accountPasskeys.start }, page),
    route("/account/passkeys/finish", { POST: accountPasskeys.finish }, page),
    route("/account/passkeys/rename", { POST: accountPasskeys.rename }, page),
    route("/account/passkeys/remove", { POST: accountPasskeys.remove }, page),
    route(PASSKEYS_SCRIPT_PATH, { GET: createPasskeysScriptHandler() }),
  ]);
  return createEdge(dispatch, {
    logger,
    respond: answers.respond,
    clientAddress: createClientAddressResolver(config.clientAddress),
    observer: deps.observer,
    closing: deps.closing,
  });
}
