/**
 * @module
 * Reading and checking the TLS certificate and key before they reach `Deno.serve`: every problem
 * becomes one {@linkcode CertificateError} line saying what is wrong and what to do.
 */
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Certificate } from "@peculiar/asn1-x509";
import { ECParameters, ECPrivateKey, id_ecPublicKey } from "@peculiar/asn1-ecc";
import { PrivateKeyInfo } from "@peculiar/asn1-pkcs8";
import { basename, dirname, join, normalize } from "node:path";
import { DEFAULT_CERT_DIR } from "./default_paths.ts";
import { CertificateError, reason } from "./errors.ts";

/** The PEM text of a TLS certificate (chain) and its private key, as `Deno.serve` takes them. */
export interface TlsFiles {
  /** PEM certificate chain, leaf first. */
  cert: string;
  /** PEM private key (PKCS#8, PKCS#1 or SEC1). */
  key: string;
}

const ID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const ID_ED25519 = "1.3.101.112";
const CURVES: Record<string, string> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
};
const CURVE_BY_KEY_LENGTH: Record<number, string> = { 32: "P-256", 48: "P-384", 66: "P-521" };
const RENEW = 'run "deno task certs --force" to make a new one';

interface PemBlock {
  label: string;
  headers: string;
  der: Uint8Array<ArrayBuffer>;
}

/**
 * Reads and checks a PEM certificate and private key before they reach `Deno.serve`.
 *
 * Throws {@linkcode CertificateError} for a missing or unreadable file, text that is not PEM, an X.509
 * version 1 or 2 certificate, one that is expired or not yet valid, an unparsable key, or a key that
 * does not belong to the certificate.
 *
 * @example
 * ```ts
 * const { cert, key } = await loadTlsFiles("certs/cert.pem", "certs/key.pem");
 * Deno.serve({ cert, key, port: 8443 }, () => new Response("ok"));
 * ```
 */
export async function loadTlsFiles(certPath: string, keyPath: string): Promise<TlsFiles> {
  const cert = await readText(certPath, "certificate", {
    envName: "TLS_CERT",
    missing: missingFileHint("TLS_CERT", certPath, keyPath),
  });
  const key = await readText(keyPath, "private key", {
    envName: "TLS_KEY",
    missing: missingFileHint("TLS_KEY", certPath, keyPath),
  });
  const leaf = checkCertificates(cert, certPath);
  const privateKey = await importPrivateKey(key, keyPath);
  await checkKeyMatches(privateKey, leaf, keyPath, certPath);
  return { cert, key };
}

/**
 * What to do about a missing certificate or key file. `deno task certs` may write only under
 * certs/ (`--dir certs/NAME` included), so it is suggested for a cert.pem or key.pem there, and
 * otherwise together with the TLS_CERT and TLS_KEY that name what it writes.
 */
function missingFileHint(
  envName: "TLS_CERT" | "TLS_KEY",
  certPath: string,
  keyPath: string,
): string {
  const paths = { TLS_CERT: normalize(certPath), TLS_KEY: normalize(keyPath) };
  const fileNames = { TLS_CERT: "cert.pem", TLS_KEY: "key.pem" };
  const dir = dirname(paths[envName]);
  const writable = dir === DEFAULT_CERT_DIR || dir.startsWith(`${DEFAULT_CERT_DIR}/`);
  const target = writable && basename(paths[envName]) === fileNames[envName]
    ? dir
    : DEFAULT_CERT_DIR;
  const command = target === DEFAULT_CERT_DIR
    ? "deno task certs"
    : `deno task certs --dir ${shellWord(target)}`;
  const settings = (["TLS_CERT", "TLS_KEY"] as const)
    .filter((name) => paths[name] !== join(target, fileNames[name]))
    .map((name) => `${name}=${shellWord(join(target, fileNames[name]))}`);
  const existing = "set TLS_CERT and TLS_KEY to existing PEM files";
  if (settings.length === 0) return `run "${command}" to create it, or ${existing}`;
  return `run "${command}" and set ${settings.join(" ")}, or ${existing}`;
}

/** A path as one shell word: quoted when it holds anything but safe characters. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

async function readText(
  path: string,
  what: string,
  { envName, missing }: { envName: string; missing: string },
): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const prefix = `Cannot read ${what} "${path}"`;
    if (error instanceof Deno.errors.NotFound) {
      throw new CertificateError(`${prefix}: file not found; ${missing}`);
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new CertificateError(
        `${prefix}: Deno has no read permission for it (the deno.json tasks and the compiled binary read only under certs/ and data/); move it there, or run with --allow-read for its directory`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw new CertificateError(
        `${prefix}: permission denied; make it readable by this user, or set ${envName}`,
      );
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new CertificateError(`${prefix}: it is a directory; set ${envName} to a PEM file`);
    }
    throw new CertificateError(`${prefix}: ${reason(error)}`);
  }
  const capitalized = what[0].toUpperCase() + what.slice(1);
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    throw new CertificateError(`${capitalized} "${path}" is empty; ${RENEW}`);
  }
  if (bytes[0] === 0x30 && !text.includes("-----BEGIN")) {
    const tool = what === "certificate" ? "x509" : "pkey";
    throw new CertificateError(
      `${capitalized} "${path}" looks like DER, not PEM; convert it with "openssl ${tool} -inform der -in ${path} -out ${path}.pem"`,
    );
  }
  return text;
}

function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const pattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const [, label, body] of text.replace(/\r\n?/g, "\n").matchAll(pattern)) {
    const headerEnd = body.indexOf("\n\n");
    const hasHeaders = body.includes(":");
    const headers = hasHeaders && headerEnd >= 0 ? body.slice(0, headerEnd) : "";
    const base64 = (hasHeaders && headerEnd >= 0 ? body.slice(headerEnd) : body).replace(
      /\s+/g,
      "",
    );
    let der: Uint8Array<ArrayBuffer>;
    try {
      der = Uint8Array.fromBase64(base64);
    } catch {
      der = new Uint8Array();
    }
    blocks.push({ label, headers, der });
  }
  return blocks;
}

function checkCertificates(text: string, path: string): Certificate {
  const blocks = parsePem(text);
  const certs = blocks.filter((block) => block.label === "CERTIFICATE");
  if (certs.length === 0) {
    if (blocks.some((block) => block.label.endsWith("PRIVATE KEY"))) {
      throw new CertificateError(
        `Certificate "${path}" holds a private key, not a certificate; check that TLS_CERT and TLS_KEY are not swapped`,
      );
    }
    throw new CertificateError(
      `Certificate "${path}" is not PEM: no "-----BEGIN CERTIFICATE-----" block found; ${RENEW}`,
    );
  }
  const now = Date.now();
  const parsed = certs.map((block, index) => {
    const name = index === 0 ? `Certificate "${path}"` : `Certificate ${index + 1} in "${path}"`;
    let cert: Certificate;
    try {
      cert = AsnConvert.parse(block.der, Certificate);
    } catch (error) {
      throw new CertificateError(`${name} cannot be parsed (${reason(error)}); ${RENEW}`);
    }
    const version = (cert.tbsCertificate.version ?? 0) + 1;
    if (version < 3) {
      throw new CertificateError(
        `${name} is X.509 version ${version}, which TLS in Deno refuses (UnsupportedCertVersion); make a version 3 certificate with "deno task certs" or add extensions with openssl -extfile`,
      );
    }
    // asn1-x509's Time.getTime() gives a Date, not a number.
    const notBefore: Date = cert.tbsCertificate.validity.notBefore.getTime();
    const notAfter: Date = cert.tbsCertificate.validity.notAfter.getTime();
    if (notAfter.getTime() < now) {
      throw new CertificateError(`${name} expired on ${notAfter.toISOString()}; ${RENEW}`);
    }
    if (notBefore.getTime() > now) {
      throw new CertificateError(
        `${name} is not valid until ${notBefore.toISOString()}; check the system clock, or ${RENEW}`,
      );
    }
    return cert;
  });
  return parsed[0];
}

interface ImportedKey {
  key: CryptoKey;
  algorithm: RsaHashedImportParams | EcKeyImportParams | Algorithm;
}

async function importPrivateKey(text: string, path: string): Promise<ImportedKey> {
  const blocks = parsePem(text);
  const block = blocks.find((b) => b.label.endsWith("PRIVATE KEY"));
  if (!block) {
    if (blocks.some((b) => b.label === "CERTIFICATE")) {
      throw new CertificateError(
        `Private key "${path}" holds a certificate, not a private key; check that TLS_CERT and TLS_KEY are not swapped`,
      );
    }
    throw new CertificateError(
      `Private key "${path}" is not PEM: no "-----BEGIN PRIVATE KEY-----" block found; ${RENEW}`,
    );
  }
  if (block.label === "ENCRYPTED PRIVATE KEY" || /ENCRYPTED/.test(block.headers)) {
    throw new CertificateError(
      `Private key "${path}" is encrypted, which Deno cannot use; decrypt it with "openssl pkey -in ${path} -out key.pem"`,
    );
  }
  const cannotParse = (error: unknown) =>
    new CertificateError(`Private key "${path}" cannot be parsed (${reason(error)}); ${RENEW}`);

  let pkcs8: Uint8Array<ArrayBuffer>;
  try {
    if (block.label === "PRIVATE KEY") {
      pkcs8 = block.der;
    } else if (block.label === "RSA PRIVATE KEY") {
      pkcs8 = wrapPkcs8(
        block.der,
        new AlgorithmIdentifier({ algorithm: ID_RSA_ENCRYPTION, parameters: null }),
      );
    } else if (block.label === "EC PRIVATE KEY") {
      pkcs8 = wrapSec1(block.der, blocks);
    } else {
      throw new CertificateError(
        `Private key "${path}" has the unsupported format "${block.label}"; use a PEM "PRIVATE KEY" (PKCS#8), "RSA PRIVATE KEY" or "EC PRIVATE KEY" file`,
      );
    }
  } catch (error) {
    if (error instanceof CertificateError) throw error;
    throw cannotParse(error);
  }

  let info: PrivateKeyInfo;
  try {
    info = AsnConvert.parse(pkcs8, PrivateKeyInfo);
  } catch (error) {
    throw cannotParse(error);
  }
  const algorithm = importAlgorithm(info.privateKeyAlgorithm);
  if (!algorithm) {
    throw new CertificateError(
      `Private key "${path}" uses the unsupported algorithm "${
        describeAlgorithm(info.privateKeyAlgorithm)
      }"; use an RSA, ECDSA or Ed25519 key, e.g. from "deno task certs"`,
    );
  }
  try {
    const key = await crypto.subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]);
    return { key, algorithm };
  } catch (error) {
    throw cannotParse(error);
  }
}

function wrapPkcs8(
  der: Uint8Array<ArrayBuffer>,
  algorithm: AlgorithmIdentifier,
): Uint8Array<ArrayBuffer> {
  const info = new PrivateKeyInfo({
    privateKeyAlgorithm: algorithm,
    privateKey: new OctetString(der),
  });
  return new Uint8Array(AsnConvert.serialize(info));
}

/** Wraps SEC1 into PKCS#8; the curve comes from the key, an "EC PARAMETERS" block or the key size. */
function wrapSec1(der: Uint8Array<ArrayBuffer>, blocks: PemBlock[]): Uint8Array<ArrayBuffer> {
  const ecKey = AsnConvert.parse(der, ECPrivateKey);
  const paramsBlock = blocks.find((b) => b.label === "EC PARAMETERS");
  let namedCurve = ecKey.parameters?.namedCurve;
  if (!namedCurve && paramsBlock) {
    namedCurve = AsnConvert.parse(paramsBlock.der, ECParameters).namedCurve;
  }
  if (!namedCurve) {
    const curve = CURVE_BY_KEY_LENGTH[ecKey.privateKey.byteLength];
    namedCurve = Object.keys(CURVES).find((oid) => CURVES[oid] === curve);
  }
  if (!namedCurve) throw new Error("Unknown elliptic curve");
  const parameters = AsnConvert.serialize(new ECParameters({ namedCurve }));
  return wrapPkcs8(der, new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters }));
}

function importAlgorithm(
  identifier: AlgorithmIdentifier,
): RsaHashedImportParams | EcKeyImportParams | Algorithm | undefined {
  switch (identifier.algorithm) {
    case ID_RSA_ENCRYPTION:
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    case id_ecPublicKey: {
      const curve = CURVES[namedCurveOf(identifier) ?? ""];
      return curve ? { name: "ECDSA", namedCurve: curve } : undefined;
    }
    case ID_ED25519:
      return { name: "Ed25519" };
  }
  return undefined;
}

function namedCurveOf(identifier: AlgorithmIdentifier): string | undefined {
  if (!identifier.parameters) return undefined;
  try {
    return AsnConvert.parse(identifier.parameters, ECParameters).namedCurve;
  } catch {
    return undefined;
  }
}

function describeAlgorithm(identifier: AlgorithmIdentifier): string {
  if (identifier.algorithm !== id_ecPublicKey) return identifier.algorithm;
  return `EC curve ${namedCurveOf(identifier) ?? "with explicit parameters"}`;
}

async function checkKeyMatches(
  privateKey: ImportedKey,
  cert: Certificate,
  keyPath: string,
  certPath: string,
): Promise<void> {
  const mismatch = new CertificateError(
    `Private key "${keyPath}" does not match certificate "${certPath}"; use the key made with this certificate, or run "deno task certs --force" to make a new pair`,
  );
  const spki = cert.tbsCertificate.subjectPublicKeyInfo;
  if (spki.algorithm.algorithm !== algorithmOid(privateKey)) throw mismatch;
  let certJwk: JsonWebKey;
  try {
    const publicKey = await crypto.subtle.importKey(
      "spki",
      AsnConvert.serialize(spki),
      privateKey.algorithm,
      true,
      ["verify"],
    );
    certJwk = await crypto.subtle.exportKey("jwk", publicKey);
  } catch {
    // A public key of another type or curve cannot pair with this private key.
    throw mismatch;
  }
  const keyJwk = await crypto.subtle.exportKey("jwk", privateKey.key);
  const fields = ["kty", "crv", "n", "e", "x", "y"] as const;
  if (fields.some((field) => certJwk[field] !== keyJwk[field])) throw mismatch;
}

function algorithmOid({ algorithm }: ImportedKey): string {
  switch (algorithm.name) {
    case "RSASSA-PKCS1-v1_5":
      return ID_RSA_ENCRYPTION;
    case "ECDSA":
      return id_ecPublicKey;
    default:
      return ID_ED25519;
  }
}
