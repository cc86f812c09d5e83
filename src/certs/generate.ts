/**
 * @module
 * Making a self-signed X.509 v3 server certificate the way the original tutorial's three OpenSSL
 * steps did (key, CSR, certificate), with the extensions TLS needs, and writing the files with
 * safe modes. Loaded only by the commands that make certificates.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { join } from "node:path";
import { CertificateError, reason } from "./errors.ts";

/** Options for {@linkcode generateCertificate}. */
export interface CertificateOptions {
  /** Key algorithm: "rsa" (RSA 2048, the default) or "ecdsa" (P-256). */
  keyType?: "rsa" | "ecdsa";
  /** Days of validity from now; {@linkcode DEFAULT_CERTIFICATE_DAYS} by default. */
  days?: number;
  /** Extra subject alternative names, each a DNS name or an IP address. */
  names?: string[];
  /** Subject common name; "localhost" by default. */
  commonName?: string;
}

/** The PEM texts of a generated private key, its certificate signing request and certificate. */
export interface GeneratedCertificate {
  /** PKCS#8 "PRIVATE KEY" PEM. */
  keyPem: string;
  /** PKCS#10 "CERTIFICATE REQUEST" PEM. */
  csrPem: string;
  /** Self-signed X.509 v3 "CERTIFICATE" PEM. */
  certPem: string;
}

/** Where {@linkcode writeCertificateFiles} puts the key, the CSR and the certificate. */
export interface CertificatePaths {
  /** Path of key.pem. */
  keyPath: string;
  /** Path of csr.pem. */
  csrPath: string;
  /** Path of cert.pem. */
  certPath: string;
}

/** Days a generated certificate is valid when no other number is given. */
export const DEFAULT_CERTIFICATE_DAYS = 365;

const DEFAULT_NAMES = ["localhost", "127.0.0.1", "::1"];
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Makes a private key, a CSR for it and a self-signed X.509 v3 server certificate from that CSR,
 * like `openssl genrsa`, `openssl req -new` and `openssl x509 -req` but with the extensions TLS needs.
 *
 * @example
 * ```ts
 * const { certPem, keyPem } = await generateCertificate({ keyType: "ecdsa", names: ["api.test"] });
 * Deno.serve({ cert: certPem, key: keyPem, port: 8443 }, () => new Response("ok"));
 * ```
 */
export async function generateCertificate(
  options: CertificateOptions = {},
): Promise<GeneratedCertificate> {
  const { keyType, days, commonName, subjectNames } = resolveOptions(options);

  const keyAlgorithm = keyType === "ecdsa" ? { name: "ECDSA", namedCurve: "P-256" } : {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  };
  const signingAlgorithm = keyType === "ecdsa"
    ? { name: "ECDSA", hash: "SHA-256" }
    : { name: "RSASSA-PKCS1-v1_5" };
  const keys = await crypto.subtle.generateKey(keyAlgorithm, true, ["sign", "verify"]);

  // Step 2 of the original: a CSR carrying the subject and the SAN extension request.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm,
    extensions: [new x509.SubjectAlternativeNameExtension(subjectNames)],
  });

  // Step 3: self-sign a certificate from the CSR's subject, public key and requested SAN.
  if (!await csr.verify()) throw new CertificateError("Generated CSR has a bad signature");
  const notBefore = new Date(Date.now() - 60_000);
  const keyUsages = keyType === "ecdsa"
    ? x509.KeyUsageFlags.digitalSignature
    : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment;
  const san = csr.getExtension("2.5.29.17") ??
    new x509.SubjectAlternativeNameExtension(subjectNames);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: csr.subjectName,
    issuer: csr.subjectName,
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    publicKey: csr.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(keyUsages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      san,
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      // Names the signing key: a peer that pins this certificate next to a renewed one with the
      // same subject (HAProxy's ca-file during a renewal) finds the right one by key, not by name.
      await x509.AuthorityKeyIdentifierExtension.create(csr.publicKey),
    ],
  });

  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    keyPem: withNewline(x509.PemConverter.encode(pkcs8, "PRIVATE KEY")),
    csrPem: withNewline(csr.toString("pem")),
    certPem: withNewline(cert.toString("pem")),
  };
}

/** Returns the key, CSR and certificate paths inside `dir`: key.pem, csr.pem and cert.pem. */
export function certificatePaths(dir: string): CertificatePaths {
  return {
    keyPath: join(dir, "key.pem"),
    csrPath: join(dir, "csr.pem"),
    certPath: join(dir, "cert.pem"),
  };
}

/**
 * Generates a certificate and writes key.pem (mode 0600), csr.pem and cert.pem into `dir`,
 * creating it if needed; refuses to replace existing files unless `force` is set.
 *
 * @example
 * ```ts
 * const { certPath, keyPath } = await writeCertificateFiles("certs", { force: true });
 * ```
 */
export async function writeCertificateFiles(
  dir: string,
  options: CertificateOptions & { force?: boolean } = {},
): Promise<CertificatePaths> {
  resolveOptions(options); // report bad options before touching the file system
  const paths = certificatePaths(dir);
  const { keyPath, csrPath, certPath } = paths;
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new CertificateError(`Cannot create directory "${dir}": ${reason(error)}`);
  }
  const existing = await Promise.all([keyPath, csrPath, certPath].map(exists));
  if (existing.some(Boolean) && !options.force) {
    throw new CertificateError(
      `Certificate files already exist in "${dir}": use --force to replace them`,
    );
  }
  const generated = await generateCertificate(options);
  await writeFile(keyPath, generated.keyPem, 0o600, existing[0]);
  await writeFile(csrPath, generated.csrPem, 0o644, existing[1]);
  await writeFile(certPath, generated.certPem, 0o644, existing[2]);
  return paths;
}

function resolveOptions(options: CertificateOptions) {
  const keyType = options.keyType ?? "rsa";
  if (keyType !== "rsa" && keyType !== "ecdsa") {
    throw new CertificateError(`Unknown key type "${keyType}": expected "rsa" or "ecdsa"`);
  }
  const days = options.days ?? DEFAULT_CERTIFICATE_DAYS;
  if (!Number.isSafeInteger(days) || days <= 0) {
    throw new CertificateError(`Days must be a positive whole number, got "${days}"`);
  }
  const commonName = options.commonName ?? "localhost";
  if (commonName.trim() === "") throw new CertificateError("Common name must not be empty");
  return { keyType, days, commonName, subjectNames: subjectAltNames(options.names ?? []) };
}

function subjectAltNames(extra: string[]): x509.JsonGeneralNames {
  const seen = new Set<string>();
  const names: x509.JsonGeneralNames = [];
  for (const raw of [...DEFAULT_NAMES, ...extra]) {
    const name = parseName(raw);
    const id = `${name.type}:${name.value}`;
    if (seen.has(id)) continue;
    seen.add(id);
    names.push(name);
  }
  return names;
}

function parseName(raw: string): x509.JsonGeneralName {
  const text = raw.trim();
  const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
  if (ipv4.test(text)) return { type: "ip", value: text };
  if (text.includes(":")) {
    const bare = text.replace(/^\[(.*)\]$/, "$1");
    try {
      // The URL parser validates IPv6 and gives its canonical, compressed form.
      const host = new URL(`http://[${bare}]/`).hostname;
      return { type: "ip", value: host.slice(1, -1) };
    } catch {
      // reported below
    }
  }
  const label = "(?!-)[a-z0-9-]{1,63}(?<!-)";
  const dns = new RegExp(`^(\\*\\.)?${label}(\\.${label})*\\.?$`);
  const lower = text.toLowerCase().replace(/\.$/, "");
  if (lower.length <= 253 && dns.test(lower) && !/^[\d.]+$/.test(lower)) {
    return { type: "dns", value: lower };
  }
  throw new CertificateError(`Invalid name "${raw}": expected a DNS name or an IP address`);
}

function randomSerialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Positive (top bit clear) and a full 16 bytes (first byte non-zero).
  bytes[0] = (bytes[0] & 0x7f) || 0x01;
  return bytes.toHex();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new CertificateError(`Cannot check "${path}": ${reason(error)}`);
  }
}

async function writeFile(path: string, text: string, mode: number, existed: boolean) {
  const chmod = Deno.build.os !== "windows";
  try {
    // Tighten an existing file before the new contents go in, then fix the mode after umask.
    if (chmod && existed) await Deno.chmod(path, mode);
    await Deno.writeTextFile(path, text, { mode });
    if (chmod) await Deno.chmod(path, mode);
  } catch (error) {
    throw new CertificateError(`Cannot write "${path}": ${reason(error)}`);
  }
}

function withNewline(text: string): string {
  const normalized = text.replace(/\r\n/g, "\n");
  return normalized.endsWith("\n") ? normalized : `${normalized}\n`;
}
