/**
 * @module
 * `keys rotate|revoke|list`: the signing keys in the store, from the command line. Lifetimes come
 * from the same configuration the server reads, so both must be run with the same settings.
 */
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { generateSigningKey } from "../auth/tokens/signing_keys.ts";
import { isoTime, unixNow } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Store } from "../store/store.ts";
import { InputError } from "./secret.ts";

const USAGE = "Usage: keys rotate | keys revoke KID | keys list";

/**
 * `keys rotate|revoke|list`: rotation makes a new key of `JWT_ALG` current (so changing `JWT_ALG`
 * and rotating switches the algorithm); older keys, whatever their algorithm, keep verifying until
 * every token they signed has expired (`ACCESS_TOKEN_TTL` + `JWT_LEEWAY`), then retire.
 * Revocation removes a key at once (a leaked key): its tokens stop verifying on every instance
 * within the key sync interval, and when it was current a new key of `JWT_ALG` takes its place.
 */
export async function keysCommand(
  args: string[],
  deps: {
    store: Store;
    config: Config;
    /** Where key changes are reported. */
    events?: SecurityEvents;
  },
) {
  const { store, config, events = UNRECORDED } = deps;
  const [action, ...rest] = args;
  const arity = action === "revoke" ? 1 : 0;
  if (!["rotate", "revoke", "list"].includes(action) || rest.length !== arity) {
    throw new InputError(USAGE);
  }
  if (config.jwtSecret !== undefined) {
    throw new InputError("JWT_SECRET is set, so tokens use HS256 and there are no keys to manage");
  }
  const now = unixNow();
  if (action === "rotate") {
    const key = await generateSigningKey(now, config.jwtAlg);
    const retireAt = now + config.accessTokenTtlSeconds + config.clockLeewaySeconds;
    await store.rotateSigningKey(key, retireAt, now);
    events.record({ event: "key_rotated", kid: key.kid });
    console.log(
      `New signing key "${key.kid}" (${key.alg}); previous keys retire at ${isoTime(retireAt)}`,
    );
    return;
  }
  if (action === "revoke") {
    const [kid] = rest;
    const replacement = await generateSigningKey(now, config.jwtAlg);
    const revoked = await store.revokeSigningKey(kid, replacement);
    if (revoked === "unknown") throw new InputError(`No signing key "${kid}"; see keys list`);
    events.record({ event: "key_revoked", kid });
    console.log(`Revoked signing key "${kid}": its tokens are refused from now on`);
    if (revoked === "current") console.log(`New signing key "${replacement.kid}"`);
    return;
  }
  for (const key of await store.listSigningKeys(now)) {
    const state = key.retiresAt === null ? "current" : `retires ${isoTime(key.retiresAt)}`;
    console.log(`${key.kid}  ${key.alg}  created ${isoTime(key.createdAt)}  ${state}`);
  }
}
