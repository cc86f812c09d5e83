/**
 * @module
 * `keys rotate|revoke|list`: the signing keys in the store, from the command line. Lifetimes come
 * from the same configuration the server reads, so both must be run with the same settings.
 */
import { type SecurityEvents, UNRECORDED } from "../auth/events.ts";
import { ID_TOKEN_ALG } from "../auth/sign_in/id_tokens.ts";
import { generateSigningKey, SIGNING_ALGS, type SigningAlg } from "../auth/tokens/signing_keys.ts";
import { isoTime, unixNow } from "../clock.ts";
import type { Config } from "../config.ts";
import type { TokenStore } from "../store/tokens.ts";
import { type CommandSpec, parseCommandLine } from "../usage.ts";
import { InputError } from "../terminal.ts";

/** The `keys` commands, from which their parser and help are made. */
export const KEYS_COMMAND: CommandSpec = {
  name: "keys",
  summary: `Manage the key pairs that sign access tokens (JWT_ALG: ${
    SIGNING_ALGS.join(", ")
  }), in the store that DATABASE_URL names`,
  details: [
    "Run them with the servers' ACCESS_TOKEN_TTL, JWT_LEEWAY and JWT_ALG; running servers pick up a change within a second. Not available with JWT_SECRET (HS256).",
    `ID tokens have their own ${ID_TOKEN_ALG} key, made at first start: keys list shows it, and these commands do not change it.`,
  ],
  commands: [
    {
      name: "keys rotate",
      summary:
        "Make a new key of JWT_ALG current; older keys verify until their tokens expire, then retire",
    },
    {
      name: "keys revoke",
      args: ["KID"],
      summary:
        "Stop trusting a (leaked) key at once; a current one is replaced by a new key of JWT_ALG when set, else of the revoked key's algorithm",
    },
    { name: "keys list", summary: "List the keys: kid, algorithm, created, current or retiring" },
  ],
};

/**
 * `keys rotate|revoke|list`: rotation makes a new key of `JWT_ALG` current (so changing `JWT_ALG`
 * and rotating switches the algorithm); older keys, whatever their algorithm, keep verifying until
 * every token they signed has expired (`ACCESS_TOKEN_TTL` + `JWT_LEEWAY`), then retire.
 * Revocation removes a key at once (a leaked key): its tokens stop verifying on every instance
 * within the key sync interval, and when it was current a new key takes its place, of `JWT_ALG`
 * when that is set and otherwise of the revoked key's algorithm, so that a revocation never
 * switches the algorithm unasked. Throws {@linkcode UsageError} for wrong arguments.
 */
export async function keysCommand(
  args: string[],
  deps: {
    store: TokenStore;
    config: Config;
    /** Where key changes are reported. */
    events?: SecurityEvents;
  },
) {
  const { store, config, events = UNRECORDED } = deps;
  const invocation = parseCommandLine(KEYS_COMMAND, args);
  if (invocation.help !== undefined) {
    console.log(invocation.help);
    return;
  }
  const { command, positionals: [kid] } = invocation;
  if (config.jwtSecret !== undefined) {
    throw new InputError("JWT_SECRET is set, so tokens use HS256 and there are no keys to manage");
  }
  const now = unixNow();
  if (command.name === "keys rotate") {
    const key = await generateSigningKey(now, config.jwtAlg);
    const retireAt = now + config.accessTokenTtlSeconds + config.clockLeewaySeconds;
    await store.rotateSigningKey(key, retireAt, now);
    events.record({ event: "key_rotated", kid: key.kid });
    console.log(
      `New signing key "${key.kid}" (${key.alg}); previous keys retire at ${isoTime(retireAt)}`,
    );
    return;
  }
  if (command.name === "keys revoke") {
    await revoke(kid, { store, config, events, now });
    return;
  }
  for (const key of await store.listSigningKeys(now)) {
    const state = key.retiresAt === null ? "current" : `retires ${isoTime(key.retiresAt)}`;
    console.log(`${key.kid}  ${key.alg}  created ${isoTime(key.createdAt)}  ${state}`);
  }
  for (const key of await store.listIdTokenKeys(now)) {
    console.log(`${key.kid}  ${key.alg}  created ${isoTime(key.createdAt)}  ID tokens`);
  }
}

async function revoke(
  kid: string,
  { store, config, events, now }: {
    store: TokenStore;
    config: Config;
    events: SecurityEvents;
    now: number;
  },
): Promise<void> {
  const target = (await store.listSigningKeys(now)).find((key) => key.kid === kid);
  if (!target) {
    if ((await store.listIdTokenKeys(now)).some((key) => key.kid === kid)) {
      throw new InputError(
        `"${kid}" is the key of ID tokens (${ID_TOKEN_ALG}), which keys revoke does not change; if it leaked, stop every instance, delete it from the store's id_token_keys table and start again: the first instance makes a new one`,
      );
    }
    throw new InputError(`No signing key "${kid}"; see keys list`);
  }
  const alg = replacementAlg(target.alg, config);
  const replacement = await generateSigningKey(now, alg);
  const revoked = await store.revokeSigningKey(kid, replacement);
  if (revoked === "unknown") throw new InputError(`No signing key "${kid}"; see keys list`);
  events.record({ event: "key_revoked", kid });
  console.log(`Revoked signing key "${kid}": its tokens are refused from now on`);
  if (revoked === "current") {
    const why = config.jwtAlgSet
      ? "JWT_ALG"
      : "the revoked key's algorithm; set JWT_ALG for another";
    console.log(`New signing key "${replacement.kid}" (${alg}, ${why})`);
  }
}

/** The algorithm of a revoked current key's successor: JWT_ALG when set, else the revoked one's. */
function replacementAlg(revokedAlg: string, config: Config): SigningAlg {
  if (config.jwtAlgSet) return config.jwtAlg;
  const known = (SIGNING_ALGS as readonly string[]).includes(revokedAlg);
  return known ? revokedAlg as SigningAlg : config.jwtAlg;
}
