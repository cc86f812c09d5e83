/**
 * @module
 * The route table of the HTTPS service behind the common edge: which handler answers which path
 * and method, and how each route words its errors. It builds nothing else.
 */
import type { ClientRegistry } from "./auth/clients.ts";
import type { KeyRing } from "./auth/keys.ts";
import type { PasswordLogin } from "./auth/password_login.ts";
import type { SessionService } from "./auth/sessions.ts";
import type { TokenService } from "./auth/tokens.ts";
import type { Config, PublicIdentity } from "./config.ts";
import { createErrorTranslator } from "./error_answers.ts";
import { createJwksHandler, createMetadataHandler } from "./handlers/discovery.ts";
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
import { createClientAddressResolver } from "./http/client_address.ts";
import { createEdge, type RequestObserver, type ServeHandler } from "./http/edge.ts";
import type { Logger } from "./log.ts";
import { createRouter, route } from "./router.ts";

/** The services the routes are built from. */
export interface AppDeps {
  config: Config;
  identity: PublicIdentity;
  logger: Logger;
  keys: KeyRing;
  tokens: TokenService;
  passwordLogin: PasswordLogin;
  sessions: SessionService;
  clients: ClientRegistry;
  /** What `/health/ready` checks. */
  readiness: ReadinessProbe;
  /** Told of every request when metrics are on. */
  observer?: RequestObserver;
}

/** Builds the HTTPS request handler: the route table behind the common edge. */
export function createApp(deps: AppDeps): ServeHandler {
  const { config, identity, logger, keys, tokens, passwordLogin, sessions, clients } = deps;
  const health = { accessLog: config.logHealthChecks };
  const bodyLimits = { maxBytes: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs };
  const oauth = { sessions, clients, bodyLimits };
  const dispatch = createRouter([
    route("/login", {
      POST: createLoginHandler({
        passwordLogin,
        sessions,
        clientId: config.defaultClientId,
        bodyLimits,
      }),
    }),
    route("/hello", { GET: createHelloHandler({ tokens }) }),
    route("/refresh", { POST: createRefreshHandler({ sessions, bodyLimits }) }, {
      errors: "flask_with_code",
    }),
    route("/logout", { POST: createLogoutHandler({ tokens, sessions }) }),
    route("/oauth/token", { POST: createOAuthTokenHandler({ passwordLogin, ...oauth }) }, {
      errors: "oauth",
    }),
    route("/oauth/revoke", { POST: createOAuthRevokeHandler(oauth) }, { errors: "oauth" }),
    route("/oauth/introspect", { POST: createOAuthIntrospectHandler(oauth) }, {
      errors: "oauth",
    }),
    route("/health/live", { GET: createLivenessHandler() }, health),
    route("/health/ready", { GET: createReadinessHandler(deps.readiness) }, health),
    route("/.well-known/jwks.json", { GET: createJwksHandler({ keys }) }),
    route("/.well-known/oauth-authorization-server", {
      GET: createMetadataHandler({ ...identity, keys, scopes: config.scopes }),
    }),
  ]);
  return createEdge(dispatch, {
    logger,
    translate: createErrorTranslator(config.realm),
    clientAddress: createClientAddressResolver(config.clientAddress),
    observer: deps.observer,
  });
}
