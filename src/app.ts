import type { PasswordHasher } from "./auth/passwords.ts";
import type { LoginThrottle } from "./auth/throttle.ts";
import type { TokenService } from "./auth/tokens.ts";
import type { Config } from "./config.ts";
import { createHelloHandler } from "./handlers/hello.ts";
import { createLoginHandler } from "./handlers/login.ts";
import { createEdge, type ServeHandler } from "./http/edge.ts";
import type { Logger } from "./log.ts";
import { createRouter, route } from "./router.ts";
import type { Store } from "./store/store.ts";

/** The services the routes are built from. */
export interface AppDeps {
  config: Config;
  logger: Logger;
  store: Store;
  hasher: PasswordHasher;
  tokens: TokenService;
  throttle: LoginThrottle;
}

/** Builds the HTTPS request handler: the route table behind the common edge. */
export function createApp(deps: AppDeps): ServeHandler {
  const { config, logger, store, hasher, tokens, throttle } = deps;
  const bodyLimits = { maxBytes: config.maxBodyBytes, timeoutMs: config.bodyTimeoutMs };
  const dispatch = createRouter([
    route("/login", {
      POST: createLoginHandler({ store, hasher, tokens, throttle, bodyLimits }),
    }),
    route("/hello", { GET: createHelloHandler({ tokens }) }),
  ]);
  return createEdge(dispatch, {
    logger,
    realm: config.realm,
    maxHeaderBytes: config.maxHeaderBytes,
  });
}
