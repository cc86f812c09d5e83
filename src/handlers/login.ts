import type { PasswordHasher } from "../auth/passwords.ts";
import type { LoginThrottle } from "../auth/throttle.ts";
import type { TokenService } from "../auth/tokens.ts";
import type { Handler } from "../http/context.ts";
import { type BodyLimits, readJsonBody } from "../http/body.ts";
import { HttpError } from "../http/errors.ts";
import { json } from "../http/json.ts";
import type { Store } from "../store/store.ts";

/** What the login handler needs. */
export interface LoginDeps {
  store: Store;
  hasher: PasswordHasher;
  tokens: TokenService;
  throttle: LoginThrottle;
  bodyLimits: BodyLimits;
}

/** Most characters of a username or password considered; longer input simply fails. */
const MAX_FIELD_LENGTH = 1024;

/**
 * `POST /login` with `{"username", "password"}`: 200 with an access token, or 400
 * `{"msg": "Invalid credentials"}` that looks and takes the same whichever part was wrong.
 */
export function createLoginHandler(deps: LoginDeps): Handler {
  const { store, hasher, tokens, throttle, bodyLimits } = deps;
  return async function login(req, ctx) {
    const body = await readJsonBody(req, bodyLimits);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, "Request body must be a JSON object");
    }
    const { username, password } = body as Record<string, unknown>;
    const name = isField(username) ? username : "";
    const wait = await throttle.retryAfter(name, ctx.remoteAddress);
    if (wait > 0) {
      throw new HttpError(429, "Too many failed login attempts; try again later", {
        headers: { "retry-after": String(wait) },
      });
    }
    const user = name ? await store.getUser(name) : undefined;
    const secret = isField(password) ? password : "";
    const check = user && secret
      ? await hasher.verify(secret, user.passwordHash)
      : await hasher.verifyDummy(secret).then(() => ({ ok: false, needsRehash: false }));
    if (!check.ok) {
      await throttle.recordFailure(name, ctx.remoteAddress);
      throw new HttpError(400, "Invalid credentials");
    }
    await throttle.recordSuccess(name);
    if (check.needsRehash) await store.setPasswordHash(name, await hasher.hash(secret));
    ctx.user = name;
    const issued = await tokens.issue(name);
    return json(
      { access_token: issued.token, token_type: "Bearer", expires_in: issued.expiresIn },
      { headers: { "cache-control": "no-store", pragma: "no-cache" } },
    );
  };
}

function isField(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_FIELD_LENGTH;
}
