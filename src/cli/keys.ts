/**
 * @module
 * `keys rotate|list`: the signing keys in the store, from the command line.
 */
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { generateSigningKey } from "../auth/keys.ts";
import { isoTime, unixNow } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Store } from "../store/store.ts";
import { InputError } from "./secret.ts";

const USAGE = "Usage: keys rotate | keys list";

/**
 * `keys rotate|list`: rotation makes a new key of `JWT_ALG` current (so changing `JWT_ALG` and
 * rotating switches the algorithm); older keys, whatever their algorithm, keep verifying until
 * every token they signed has expired, then retire.
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
  if (rest.length > 0 || (action !== "rotate" && action !== "list")) throw new InputError(USAGE);
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
  for (const key of await store.listSigningKeys(now)) {
    const state = key.retiresAt === null ? "current" : `retires ${isoTime(key.retiresAt)}`;
    console.log(`${key.kid}  ${key.alg}  created ${isoTime(key.createdAt)}  ${state}`);
  }
}
