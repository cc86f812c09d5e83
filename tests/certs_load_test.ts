/**
 * @module
 * Loading the certificate and key at start (loadTlsFiles): the PEM forms openssl writes, and a
 * one-line error that names the fix for a missing file, a file that is not PEM, a key that does
 * not match, an X.509 version 1 certificate, and one that expired or is not yet valid.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Version } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { join } from "node:path";
import { CertificateError } from "../src/certs/errors.ts";
import { generateCertificate } from "../src/certs/generate.ts";
import { loadTlsFiles } from "../src/certs/load.ts";
import {
  assertCertificateError,
  DAY_MS,
  ecdsaCertificate,
  rsaCertificate,
  versionOf,
  writeFiles,
} from "./helpers/certificates.ts";
import { OPENSSL, testNeeding } from "./helpers/prerequisites.ts";
import { outputOf } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { opensslVersion1Certificate } from "./helpers/tls.ts";

Deno.test("loadTlsFiles returns the PEM texts of a generated certificate and key", async () => {
  const generated = await ecdsaCertificate();
  await withTempDir(async (dir) => {
    await writeFiles(dir, { "cert.pem": generated.certPem, "key.pem": generated.keyPem });
    const files = await loadTlsFiles(join(dir, "cert.pem"), join(dir, "key.pem"));
    assert.deepEqual(files, { cert: generated.certPem, key: generated.keyPem });
  });
});

testNeeding(
  [OPENSSL],
  "loadTlsFiles accepts PKCS#1 RSA PRIVATE KEY and SEC1 EC PRIVATE KEY files from openssl",
  async () => {
    await withTempDir(async (dir) => {
      const rsa = await rsaCertificate();
      const ec = await ecdsaCertificate();
      await writeFiles(dir, {
        "rsa.pem": rsa.certPem,
        "rsa_key.pem": rsa.keyPem,
        "ec.pem": ec.certPem,
        "ec_key.pem": ec.keyPem,
      });
      await outputOf(
        "openssl",
        ["rsa", "-traditional", "-in", "rsa_key.pem", "-out", "pkcs1.pem"],
        {
          cwd: dir,
        },
      );
      await outputOf("openssl", ["ec", "-in", "ec_key.pem", "-out", "sec1.pem"], { cwd: dir });
      const pkcs1 = await Deno.readTextFile(join(dir, "pkcs1.pem"));
      const sec1 = await Deno.readTextFile(join(dir, "sec1.pem"));
      assert.match(pkcs1, /-----BEGIN RSA PRIVATE KEY-----/);
      assert.match(sec1, /-----BEGIN EC PRIVATE KEY-----/);

      assert.equal((await loadTlsFiles(join(dir, "rsa.pem"), join(dir, "pkcs1.pem"))).key, pkcs1);
      assert.equal((await loadTlsFiles(join(dir, "ec.pem"), join(dir, "sec1.pem"))).key, sec1);
      await assertCertificateError(
        loadTlsFiles(join(dir, "ec.pem"), join(dir, "pkcs1.pem")),
        /does not match/,
      );
    });
  },
);

Deno.test("loadTlsFiles explains a missing certificate or key file", async () => {
  const generated = await ecdsaCertificate();
  await withTempDir(async (dir) => {
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    // deno task certs writes only under certs/: elsewhere it is named with the settings to use.
    await assertCertificateError(
      loadTlsFiles(cert, key),
      new RegExp(
        `^Cannot read certificate "${
          RegExp.escape(cert)
        }": file not found; run "deno task certs" and set TLS_CERT=certs/cert.pem TLS_KEY=certs/key.pem, or set TLS_CERT and TLS_KEY to existing PEM files$`,
      ),
    );
    await writeFiles(dir, { "cert.pem": generated.certPem });
    await assertCertificateError(
      loadTlsFiles(cert, key),
      /^Cannot read private key ".*key\.pem": file not found; .*TLS_KEY to existing PEM files$/,
    );
  });
});

Deno.test("loadTlsFiles suggests deno task certs only where it writes the missing file", async () => {
  async function missing(certPath: string, keyPath: string): Promise<string> {
    const error = await loadTlsFiles(certPath, keyPath).then(() => undefined, (e) => e);
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${error}`);
    return error.message;
  }
  // Relative paths are resolved in an empty directory, so that files a user made in the project
  // (deno task certs --dir certs/api, say) cannot change what is missing.
  const cwd = Deno.cwd();
  await withTempDir(async (dir) => {
    Deno.chdir(dir);
    try {
      // The defaults, relative to the working directory: deno task certs writes exactly these.
      assert.equal(
        await missing("certs/cert.pem", "./certs/key.pem"),
        'Cannot read certificate "certs/cert.pem": file not found; run "deno task certs" to create it, or set TLS_CERT and TLS_KEY to existing PEM files',
      );
      // A directory under certs/: --dir says which, as the task may write there.
      assert.equal(
        await missing("certs/api/cert.pem", "certs/api/key.pem"),
        'Cannot read certificate "certs/api/cert.pem": file not found; run "deno task certs --dir certs/api" to create it, or set TLS_CERT and TLS_KEY to existing PEM files',
      );
      assert.equal(
        await missing("certs/api/cert.pem", "certs/key.pem"),
        'Cannot read certificate "certs/api/cert.pem": file not found; run "deno task certs --dir certs/api" and set TLS_KEY=certs/api/key.pem, or set TLS_CERT and TLS_KEY to existing PEM files',
      );
      // Another directory, which the task may not write: the defaults, and the settings naming them.
      assert.equal(
        await missing("/nowhere/tls dir/cert.pem", "/nowhere/tls dir/key.pem"),
        'Cannot read certificate "/nowhere/tls dir/cert.pem": file not found; run "deno task certs" and set TLS_CERT=certs/cert.pem TLS_KEY=certs/key.pem, or set TLS_CERT and TLS_KEY to existing PEM files',
      );
      assert.equal(
        await missing("/nowhere/cert.pem", "certs/key.pem"),
        'Cannot read certificate "/nowhere/cert.pem": file not found; run "deno task certs" and set TLS_CERT=certs/cert.pem, or set TLS_CERT and TLS_KEY to existing PEM files',
      );
      // A name deno task certs never writes, even under certs/.
      assert.equal(
        await missing("certs/api.crt", "certs/api.key"),
        'Cannot read certificate "certs/api.crt": file not found; run "deno task certs" and set TLS_CERT=certs/cert.pem TLS_KEY=certs/key.pem, or set TLS_CERT and TLS_KEY to existing PEM files',
      );
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("loadTlsFiles explains a file that is not a PEM certificate or key", async () => {
  const generated = await ecdsaCertificate();
  await withTempDir(async (dir) => {
    await writeFiles(dir, {
      "garbage.pem": "this is not a certificate\n",
      "empty.pem": "",
      "broken.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      "cert.pem": generated.certPem,
      "key.pem": generated.keyPem,
    });
    await Deno.writeFile(
      join(dir, "der.pem"),
      new Uint8Array(x509.PemConverter.decodeFirst(generated.certPem)),
    );
    const path = (name: string) => join(dir, name);
    await assertCertificateError(
      loadTlsFiles(path("garbage.pem"), path("key.pem")),
      /^Certificate ".*garbage\.pem" is not PEM: no "-----BEGIN CERTIFICATE-----" block found; run "deno task certs --force"/,
    );
    await assertCertificateError(loadTlsFiles(path("empty.pem"), path("key.pem")), /is empty/);
    await assertCertificateError(
      loadTlsFiles(path("der.pem"), path("key.pem")),
      /looks like DER, not PEM; convert it with "openssl x509 -inform der/,
    );
    await assertCertificateError(
      loadTlsFiles(path("broken.pem"), path("key.pem")),
      /^Certificate ".*broken\.pem" cannot be parsed/,
    );
    await assertCertificateError(
      loadTlsFiles(path("key.pem"), path("cert.pem")),
      /holds a private key, not a certificate; check that TLS_CERT and TLS_KEY are not swapped$/,
    );
    await assertCertificateError(
      loadTlsFiles(path("cert.pem"), path("garbage.pem")),
      /^Private key ".*garbage\.pem" is not PEM/,
    );
  });
});

Deno.test("loadTlsFiles rejects a private key that does not match the certificate", async () => {
  const [first, second] = await Promise.all([
    ecdsaCertificate(),
    generateCertificate({ keyType: "ecdsa" }),
  ]);
  const rsa = await rsaCertificate();
  await withTempDir(async (dir) => {
    await writeFiles(dir, {
      "cert.pem": first.certPem,
      "other_key.pem": second.keyPem,
      "rsa_key.pem": rsa.keyPem,
    });
    await assertCertificateError(
      loadTlsFiles(join(dir, "cert.pem"), join(dir, "other_key.pem")),
      /^Private key ".*other_key\.pem" does not match certificate ".*cert\.pem"; .*deno task certs --force/,
    );
    await assertCertificateError(
      loadTlsFiles(join(dir, "cert.pem"), join(dir, "rsa_key.pem")),
      /does not match certificate/,
    );
  });
});

testNeeding(
  [OPENSSL],
  "loadTlsFiles rejects an OpenSSL version 1 certificate with a hint to make version 3",
  async () => {
    await withTempDir(async (dir) => {
      await opensslVersion1Certificate(dir, { cert: "cert.pem", key: "key.pem" });
      const certPem = await Deno.readTextFile(join(dir, "cert.pem"));
      assert.equal(versionOf(certPem), Version.v1);
      await assertCertificateError(
        loadTlsFiles(join(dir, "cert.pem"), join(dir, "key.pem")),
        /^Certificate ".*cert\.pem" is X\.509 version 1, which TLS in Deno refuses \(UnsupportedCertVersion\); make a version 3 certificate with "deno task certs" or add extensions with openssl -extfile$/,
      );
    });
  },
);

Deno.test("loadTlsFiles rejects an expired or not yet valid certificate", async () => {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const keyPem = x509.PemConverter.encode(
    await crypto.subtle.exportKey("pkcs8", keys.privateKey),
    "PRIVATE KEY",
  );
  const make = (notBefore: number, notAfter: number) =>
    x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=localhost",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
    });
  const now = Date.now();
  const expired = await make(now - 10 * DAY_MS, now - DAY_MS);
  const future = await make(now + DAY_MS, now + 10 * DAY_MS);
  await withTempDir(async (dir) => {
    await writeFiles(dir, {
      "expired.pem": expired.toString("pem"),
      "future.pem": future.toString("pem"),
      "key.pem": keyPem,
    });
    await assertCertificateError(
      loadTlsFiles(join(dir, "expired.pem"), join(dir, "key.pem")),
      /^Certificate ".*expired\.pem" expired on \d{4}-\d\d-\d\dT[\d:.]+Z; run "deno task certs --force"/,
    );
    await assertCertificateError(
      loadTlsFiles(join(dir, "future.pem"), join(dir, "key.pem")),
      /^Certificate ".*future\.pem" is not valid until .*; check the system clock/,
    );
  });
});
