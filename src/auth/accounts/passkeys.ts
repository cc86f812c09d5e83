/**
 * @module
 * A person's passkeys (WebAuthn Level 3 public-key credentials): the options a browser needs to
 * make one (discoverable, user verification required, never a second time on one authenticator)
 * or to sign in with one, and the server-side checks of what it answers, done by
 * `@simplewebauthn/server` against the origin and RP ID of `PUBLIC_URL`. A use advances the
 * stored signature counter atomically, so a replayed or cloned authenticator's assertion is
 * refused. Challenges are made here and kept by the caller, single-use, with the pending step
 * they belong to. It answers with values or an {@linkcode AuthFailure}; it never builds a
 * response.
 */
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { unixNow } from "../../clock.ts";
import type { AccountStore } from "../../store/accounts.ts";
import type { PasskeyRecord, PasskeyStore } from "../../store/passkeys.ts";
import { AuthFailure } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import { randomSecret } from "../secrets.ts";

/** How long a browser has to answer a passkey challenge. */
export const PASSKEY_CHALLENGE_SECONDS = 5 * 60;
/** The longest name a passkey may be given. */
export const MAX_PASSKEY_NAME_LENGTH = 64;
/** The most passkeys one account may register. */
export const MAX_PASSKEYS_PER_ACCOUNT = 20;
/** The transports WebAuthn Level 3 names; anything else a browser reports is dropped. */
const TRANSPORTS: readonly string[] = ["ble", "hybrid", "internal", "nfc", "smart-card", "usb"];
/** COSE algorithms accepted, preferred first: EdDSA, ES256, RS256. */
const ALGORITHMS = [-8, -7, -257];

/** What `navigator.credentials.get` needs, in JSON (binary values base64url). */
export type PasskeyRequestOptions = PublicKeyCredentialRequestOptionsJSON;

/** What `navigator.credentials.create` needs, in JSON (binary values base64url). */
export type PasskeyCreationOptions = PublicKeyCredentialCreationOptionsJSON;

/** A challenge handed to a browser, to be kept with its pending step. */
export interface PasskeyChallenge {
  /** The challenge, base64url, as the browser's client data will carry it. */
  challenge: string;
  /** When it stops being accepted. */
  expiresAt: number;
}

/** An account a passkey signed in, and how (RFC 8176 `amr`). */
export interface PasskeySignedIn {
  username: string;
  subject: string;
  /** `hwk` (bound to its device) or `swk` (may be synced), with `user` and `mfa`. */
  amr: string[];
}

/** A passkey as its owner sees it. */
export type PasskeySummary = Pick<
  PasskeyRecord,
  "id" | "name" | "createdAt" | "lastUsedAt" | "backupEligible"
>;

/** The relying party the passkeys are made for: this service, as `PUBLIC_URL` names it. */
export interface RelyingParty {
  /** The origin browsers sign for (`https://host[:port]`). */
  origin: string;
  /** The RP ID: the host name of `PUBLIC_URL`. */
  id: string;
  /** The name authenticators show. */
  name: string;
}

/** The relying party of a service reached at `publicUrl`, named by its host as people type it. */
export function relyingPartyOf(publicUrl: string): RelyingParty {
  const url = new URL(publicUrl);
  return { origin: url.origin, id: url.hostname, name: url.host };
}

/**
 * Passkeys.
 *
 * @example
 * ```ts
 * const { options, challenge } = await passkeys.registrationOptions(user);
 * await passkeys.register(user, responseFromBrowser, challenge, "Laptop");
 * const signedIn = await passkeys.signIn(assertion, await passkeys.newChallenge());
 * ```
 */
export class Passkeys {
  #store: PasskeyStore & Pick<AccountStore, "getUser">;
  #events: SecurityEvents;
  readonly relyingParty: RelyingParty;

  constructor(deps: {
    store: PasskeyStore & Pick<AccountStore, "getUser">;
    relyingParty: RelyingParty;
    events?: SecurityEvents;
  }) {
    this.#store = deps.store;
    this.#events = deps.events ?? UNRECORDED;
    this.relyingParty = deps.relyingParty;
  }

  /** A new challenge, valid for {@linkcode PASSKEY_CHALLENGE_SECONDS}. */
  newChallenge(): PasskeyChallenge {
    return { challenge: randomSecret(), expiresAt: unixNow() + PASSKEY_CHALLENGE_SECONDS };
  }

  /** The passkeys of the account `subject`, oldest first. */
  async list(subject: string): Promise<PasskeySummary[]> {
    return (await this.#store.listPasskeys(subject)).map(
      ({ id, name, createdAt, lastUsedAt, backupEligible }) => ({
        id,
        name,
        createdAt,
        lastUsedAt,
        backupEligible,
      }),
    );
  }

  /** Whether the account named `username` has a passkey. */
  async has(username: string): Promise<boolean> {
    const user = await this.#store.getUser(username);
    return user !== undefined && (await this.#store.listPasskeys(user.subject)).length > 0;
  }

  /** What `navigator.credentials.create` needs to make a passkey for `user` with `challenge`. */
  async registrationOptions(
    user: { username: string; subject: string },
    challenge: PasskeyChallenge,
  ): Promise<PasskeyCreationOptions> {
    const existing = await this.#store.listPasskeys(user.subject);
    return await generateRegistrationOptions({
      rpName: this.relyingParty.name,
      rpID: this.relyingParty.id,
      userName: user.username,
      userID: new TextEncoder().encode(user.subject),
      challenge: fromBase64Url(challenge.challenge),
      timeout: PASSKEY_CHALLENGE_SECONDS * 1000,
      attestationType: "none",
      excludeCredentials: existing.map((passkey) => ({
        id: passkey.id,
        transports: passkey.transports as AuthenticatorTransportFuture[],
      })),
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
      supportedAlgorithmIDs: ALGORITHMS,
    });
  }

  /** What `navigator.credentials.get` needs; for a second factor, `subject`'s passkeys only. */
  async signInOptions(
    challenge: PasskeyChallenge,
    subject?: string,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const allowed = subject === undefined ? [] : await this.#store.listPasskeys(subject);
    return await generateAuthenticationOptions({
      rpID: this.relyingParty.id,
      challenge: fromBase64Url(challenge.challenge),
      timeout: PASSKEY_CHALLENGE_SECONDS * 1000,
      userVerification: "required",
      allowCredentials: allowed.map((passkey) => ({
        id: passkey.id,
        transports: passkey.transports as AuthenticatorTransportFuture[],
      })),
    });
  }

  /**
   * Checks a new credential from the browser against `challenge` and stores it for `user` under
   * `name`: `invalid_passkey` when it does not verify (another origin or RP ID, no user
   * verification, not discoverable, known already).
   */
  async register(
    user: { username: string; subject: string },
    response: unknown,
    challenge: PasskeyChallenge,
    options: { name: string; origin?: Origin },
  ): Promise<PasskeySummary> {
    const about = { subject: user.username };
    const refuse = (reason: string, cause?: unknown) => {
      this.#events.record({ event: "passkey_refused", ...about, reason }, options.origin);
      return new AuthFailure("invalid_passkey", "The passkey could not be registered", { cause });
    };
    if (unixNow() > challenge.expiresAt) throw refuse("expired");
    const credential = parsedCredential(response) as RegistrationResponseJSON | undefined;
    if (!credential) throw refuse("malformed");
    if (credential.clientExtensionResults?.credProps?.rk === false) {
      throw refuse("not_discoverable");
    }
    if ((await this.#store.listPasskeys(user.subject)).length >= MAX_PASSKEYS_PER_ACCOUNT) {
      throw tooMany();
    }
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response: credential,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.relyingParty.origin,
        expectedRPID: this.relyingParty.id,
        requireUserVerification: true,
        supportedAlgorithmIDs: ALGORITHMS,
      });
    } catch (error) {
      throw refuse("unverified", error);
    }
    const info = verification.registrationInfo;
    if (!verification.verified || !info) throw refuse("unverified");
    const now = unixNow();
    const passkey = {
      id: info.credential.id,
      subject: user.subject,
      publicKey: info.credential.publicKey.toBase64({ alphabet: "base64url", omitPadding: true }),
      counter: info.credential.counter,
      transports: (credential.response.transports ?? []).filter((transport) =>
        TRANSPORTS.includes(transport)
      ),
      backupEligible: info.credentialDeviceType === "multiDevice",
      backedUp: info.credentialBackedUp,
      userVerified: info.userVerified,
      name: passkeyName(options.name),
      createdAt: now,
    };
    if (!await this.#store.addPasskey(passkey, { atMost: MAX_PASSKEYS_PER_ACCOUNT })) {
      if ((await this.#store.listPasskeys(user.subject)).length >= MAX_PASSKEYS_PER_ACCOUNT) {
        throw tooMany();
      }
      throw refuse("known");
    }
    this.#events.record({ event: "passkey_registered", ...about }, options.origin);
    const { id, name, createdAt, backupEligible } = passkey;
    return { id, name, createdAt, lastUsedAt: null, backupEligible };
  }

  /**
   * Checks an assertion from the browser against `challenge` (already taken from its pending
   * step, so used once): the credential must be known (and, for a second factor, `subject`'s),
   * signed for our origin and RP ID with the user verified, its user handle its owner's, its
   * counter later than the last. Throws `invalid_passkey` otherwise.
   */
  async signIn(
    response: unknown,
    challenge: PasskeyChallenge,
    options: { subject?: string; origin?: Origin } = {},
  ): Promise<PasskeySignedIn> {
    let about: { subject?: string } = {};
    const refuse = (reason: string, cause?: unknown) => {
      this.#events.record({ event: "passkey_refused", ...about, reason }, options.origin);
      return new AuthFailure("invalid_passkey", "The passkey was not accepted", { cause });
    };
    if (unixNow() > challenge.expiresAt) throw refuse("expired");
    const assertion = parsedCredential(response) as AuthenticationResponseJSON | undefined;
    if (!assertion) throw refuse("malformed");
    const passkey = await this.#store.getPasskey(assertion.id);
    if (!passkey) throw refuse("unknown");
    about = { subject: passkey.username };
    if (options.subject !== undefined && passkey.subject !== options.subject) {
      throw refuse("another_account");
    }
    // A discoverable sign-in names its account only by the user handle, so it must have one
    // (WebAuthn Level 3 §7.2 step 6); after a password the account is known already.
    const handle = assertion.response.userHandle;
    const owner = toBase64Url(new TextEncoder().encode(passkey.subject));
    if (handle === undefined ? options.subject === undefined : handle !== owner) {
      throw refuse("user_handle");
    }
    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response: assertion,
        expectedChallenge: challenge.challenge,
        expectedOrigin: this.relyingParty.origin,
        expectedRPID: this.relyingParty.id,
        credential: {
          id: passkey.id,
          publicKey: fromBase64Url(passkey.publicKey),
          counter: passkey.counter,
          transports: passkey.transports as AuthenticatorTransportFuture[],
        },
        requireUserVerification: true,
      });
    } catch (error) {
      throw refuse("unverified", error);
    }
    const info = verification.authenticationInfo;
    if (!verification.verified) throw refuse("unverified");
    // WebAuthn Level 3 §6.1.3: the backup eligibility of a credential never changes.
    if ((info.credentialDeviceType === "multiDevice") !== passkey.backupEligible) {
      throw refuse("backup_eligibility");
    }
    const used = await this.#store.usePasskey(passkey.id, {
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      now: unixNow(),
    });
    if (!used) throw refuse("counter");
    this.#events.record({ event: "passkey_succeeded", ...about }, options.origin);
    const kind = passkey.backupEligible ? "swk" : "hwk";
    return { username: passkey.username, subject: passkey.subject, amr: [kind, "user", "mfa"] };
  }

  /** Renames one of `subject`'s passkeys; `invalid_request` when it has no such passkey. */
  async rename(
    user: { username: string; subject: string },
    id: string,
    name: string,
    origin?: Origin,
  ): Promise<void> {
    if (!await this.#store.renamePasskey(user.subject, id, passkeyName(name))) {
      throw unknownPasskey();
    }
    this.#events.record({ event: "passkey_renamed", subject: user.username }, origin);
  }

  /** Removes one of `subject`'s passkeys; `invalid_request` when it has no such passkey. */
  async remove(
    user: { username: string; subject: string },
    id: string,
    origin?: Origin,
  ): Promise<void> {
    if (!await this.#store.removePasskey(user.subject, id)) throw unknownPasskey();
    this.#events.record({ event: "passkey_removed", subject: user.username }, origin);
  }
}

type AuthenticatorTransportFuture = NonNullable<
  RegistrationResponseJSON["response"]["transports"]
>[number];

/** A name as stored: trimmed, control characters dropped, at most the longest allowed. */
function passkeyName(name: string): string {
  // deno-lint-ignore no-control-regex
  const clean = name.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return (clean === "" ? "Passkey" : clean).slice(0, MAX_PASSKEY_NAME_LENGTH);
}

function unknownPasskey(): AuthFailure {
  return new AuthFailure("invalid_request", "You have no such passkey");
}

/** The browser's credential as posted (JSON text), when it has the shape of one. */
function parsedCredential(response: unknown): Record<string, unknown> | undefined {
  let value = response;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== "object" || value === null) return undefined;
  const credential = value as Record<string, unknown>;
  const inner = credential.response;
  const shaped = typeof credential.id === "string" && credential.id.length <= 1366 &&
    credential.rawId === credential.id && credential.type === "public-key" &&
    typeof inner === "object" && inner !== null;
  if (!shaped) return undefined;
  credential.clientExtensionResults ??= {};
  return credential;
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" }) as Uint8Array<ArrayBuffer>;
}

function toBase64Url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function tooMany(): AuthFailure {
  return new AuthFailure(
    "invalid_request",
    `An account may have at most ${MAX_PASSKEYS_PER_ACCOUNT} passkeys; remove one first`,
  );
}
