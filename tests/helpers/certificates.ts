/**
 * Certificates made by the service's own generator for the certificate tests: one RSA and one
 * ECDSA certificate shared by the tests of a process (RSA key generation takes a while), their
 * version and names read back with @peculiar/x509, and the one-line CertificateError assertion.
 *
 * @module
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, type Version } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { join } from "node:path";
import { generateCertificate, type GeneratedCertificate } from "../../src/certs/generate.ts";
import { CertificateError } from "../../src/certs/errors.ts";

/** One day, in milliseconds, as certificate validity is measured. */
export const DAY_MS = 24 * 60 * 60 * 1000;

let rsaPromise: Promise<GeneratedCertificate> | undefined;
let ecdsaPromise: Promise<GeneratedCertificate> | undefined;

/** The generator's default certificate (RSA 2048), made once per process. */
export function rsaCertificate(): Promise<GeneratedCertificate> {
  return rsaPromise ??= generateCertificate();
}

/** An ECDSA P-256 certificate from the generator, made once per process. */
export function ecdsaCertificate(): Promise<GeneratedCertificate> {
  return ecdsaPromise ??= generateCertificate({ keyType: "ecdsa" });
}

/** The subjectAltName entries of `cert`, asserting it has the extension. */
export function sanOf(cert: x509.X509Certificate): x509.JsonGeneralNames {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assert.ok(san, "certificate has a subjectAltName");
  return san.names.toJSON();
}

/** The X.509 version field of the first certificate in `certPem`. */
export function versionOf(certPem: string): Version {
  return AsnConvert.parse(x509.PemConverter.decodeFirst(certPem), Certificate).tbsCertificate
    .version;
}

/** Writes each named text into `dir`. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
}

/** Asserts that `promise` rejects with a one-line CertificateError matching `pattern`. */
export async function assertCertificateError(
  promise: Promise<unknown>,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${error}`);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /[\r\n]/, "message is a single line");
    assert.match(error.message, /^[A-Z]/, "message starts upper-case");
    assert.doesNotMatch(error.message, /\.$/, "message has no trailing period");
    return true;
  });
}
