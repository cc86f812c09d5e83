/**
 * A passkey authenticator in software, for tests that need answers a browser would never give
 * (signed for another RP ID, a counter gone back, another account's user handle) or many of
 * them fast: one ES256 credential, attestation "none", its answers as the pages' script posts
 * them (JSON, binary values base64url). Also reads the passkey options a page carries.
 *
 * @module
 */
import type { NewPasskey } from "../../src/store/store.ts";

/** The flags of authenticator data (WebAuthn §6.1). */
const UP = 0x01;
const UV = 0x04;
const BE = 0x08;
const BS = 0x10;
const AT = 0x40;

function b64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

function uint32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

/** A byte string's CBOR head and bytes. */
function cborBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 24) return concat(new Uint8Array([0x40 + bytes.length]), bytes);
  if (bytes.length < 256) return concat(new Uint8Array([0x58, bytes.length]), bytes);
  return concat(new Uint8Array([0x59, bytes.length >> 8, bytes.length & 0xff]), bytes);
}

function cborText(text: string): Uint8Array {
  const bytes = new TextEncoder().encode(text);
  return concat(new Uint8Array([0x60 + bytes.length]), bytes);
}

/** An ECDSA signature from WebCrypto (r‖s) in the DER form WebAuthn carries. */
function derSignature(raw: Uint8Array): Uint8Array {
  const integer = (half: Uint8Array) => {
    let start = 0;
    while (start < half.length - 1 && half[start] === 0) start++;
    let body = half.slice(start);
    if (body[0] & 0x80) body = concat(new Uint8Array([0]), body);
    return concat(new Uint8Array([0x02, body.length]), body);
  };
  const body = concat(integer(raw.slice(0, 32)), integer(raw.slice(32)));
  return concat(new Uint8Array([0x30, body.length]), body);
}

/** Reads the JSON a page's `data-…` attribute carries (escaped as the pages escape it). */
export function dataAttribute(html: string, name: string): Record<string, unknown> {
  const match = new RegExp(`${name}="([^"]*)"`).exec(html);
  if (!match) throw new Error(`The page has no ${name} attribute`);
  const text = match[1].replaceAll("&quot;", '"').replaceAll("&#39;", "'")
    .replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  return JSON.parse(text);
}

/** How an answer may be bent for a test. */
export interface AnswerOptions {
  /** The RP ID whose hash the authenticator data carries (default: the authenticator's). */
  rpId?: string;
  /** The origin the client data names (default: the authenticator's). */
  origin?: string;
  /** The user handle to return, base64url (default: the one registered). */
  userHandle?: string;
  /** The counter to sign (default: one more than the last). */
  counter?: number;
  /** Whether the user was verified (default: yes). */
  userVerified?: boolean;
}

/** One ES256 passkey on a software authenticator. */
export class SoftwareAuthenticator {
  readonly credentialId: string = b64url(crypto.getRandomValues(new Uint8Array(16)));
  counter = 0;
  userHandle?: string;
  #keys: CryptoKeyPair;
  #cose: Uint8Array;
  readonly rpId: string;
  readonly origin: string;
  readonly backupEligible: boolean;

  private constructor(
    keys: CryptoKeyPair,
    cose: Uint8Array,
    where: { origin: string; backupEligible: boolean },
  ) {
    this.#keys = keys;
    this.#cose = cose;
    this.origin = where.origin;
    this.rpId = new URL(where.origin).hostname;
    this.backupEligible = where.backupEligible;
  }

  /** A new credential for the service at `origin` (RP ID: its host name). */
  static async create(
    origin: string,
    options: { backupEligible?: boolean } = {},
  ): Promise<SoftwareAuthenticator> {
    const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]) as CryptoKeyPair;
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
    const cose = concat(
      new Uint8Array([0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20]),
      raw.slice(1, 33),
      new Uint8Array([0x22, 0x58, 0x20]),
      raw.slice(33, 65),
    );
    return new SoftwareAuthenticator(keys, cose, {
      origin,
      backupEligible: options.backupEligible ?? false,
    });
  }

  /** The store record of this credential for `subject`, as if registered on the account page. */
  record(subject: string, name = "Software key"): NewPasskey {
    this.userHandle = b64url(new TextEncoder().encode(subject));
    return {
      id: this.credentialId,
      subject,
      publicKey: b64url(this.#cose),
      counter: this.counter,
      transports: ["internal"],
      backupEligible: this.backupEligible,
      backedUp: false,
      userVerified: true,
      name,
      createdAt: Math.floor(Date.now() / 1000),
    };
  }

  #flags(userVerified = true): number {
    return UP | (userVerified ? UV : 0) | (this.backupEligible ? BE | BS : 0);
  }

  /** The answer to `navigator.credentials.create` with `options` (the page's), as JSON text. */
  async register(options: Record<string, unknown>, bend: AnswerOptions = {}): Promise<string> {
    const user = options.user as { id: string };
    this.userHandle = user.id;
    const id = Uint8Array.fromBase64(this.credentialId, { alphabet: "base64url" });
    const authData = concat(
      await sha256(new TextEncoder().encode(bend.rpId ?? this.rpId)),
      new Uint8Array([this.#flags(bend.userVerified) | AT]),
      uint32(this.counter),
      new Uint8Array(16),
      new Uint8Array([id.length >> 8, id.length & 0xff]),
      id,
      this.#cose,
    );
    const attestation = concat(
      new Uint8Array([0xa3]),
      cborText("fmt"),
      cborText("none"),
      cborText("attStmt"),
      new Uint8Array([0xa0]),
      cborText("authData"),
      cborBytes(authData),
    );
    const clientData = this.#clientData("webauthn.create", options.challenge as string, bend);
    return JSON.stringify({
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: { credProps: { rk: true } },
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestation),
        transports: ["internal"],
      },
    });
  }

  /** The answer to `navigator.credentials.get` for `challenge`, as JSON text. */
  async assert(challenge: string, bend: AnswerOptions = {}): Promise<string> {
    const counter = bend.counter ?? ++this.counter;
    const authData = concat(
      await sha256(new TextEncoder().encode(bend.rpId ?? this.rpId)),
      new Uint8Array([this.#flags(bend.userVerified)]),
      uint32(counter),
    );
    const clientData = this.#clientData("webauthn.get", challenge, bend);
    const signed = concat(authData, await sha256(clientData));
    const raw = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        this.#keys.privateKey,
        signed,
      ),
    );
    const userHandle = bend.userHandle ?? this.userHandle;
    return JSON.stringify({
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(derSignature(raw)),
        ...(userHandle && { userHandle }),
      },
    });
  }

  #clientData(type: string, challenge: string, bend: AnswerOptions): Uint8Array<ArrayBuffer> {
    const origin = bend.origin ?? this.origin;
    return new TextEncoder().encode(
      JSON.stringify({ type, challenge, origin, crossOrigin: false }),
    );
  }
}
