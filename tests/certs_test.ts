import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate, Version } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  certificatePaths,
  generateCertificate,
  type GeneratedCertificate,
  writeCertificateFiles,
} from "../src/certs/generate.ts";
import { CertificateError } from "../src/certs/errors.ts";
import { loadTlsFiles } from "../src/certs/load.ts";
import { certsCommand } from "../src/cli/certs.ts";
import { CURL, OPENSSL, testNeeding } from "./helpers/prerequisites.ts";
import { outputOf } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";
import { opensslVersion1Certificate } from "./helpers/tls.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

// RSA key generation takes a while, so the suite shares one RSA and one ECDSA certificate.
let rsaPromise: Promise<GeneratedCertificate> | undefined;
let ecdsaPromise: Promise<GeneratedCertificate> | undefined;
function rsaCertificate(): Promise<GeneratedCertificate> {
  return rsaPromise ??= generateCertificate();
}
function ecdsaCertificate(): Promise<GeneratedCertificate> {
  return ecdsaPromise ??= generateCertificate({ keyType: "ecdsa" });
}

function sanOf(cert: x509.X509Certificate): x509.JsonGeneralNames {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  assert.ok(san, "certificate has a subjectAltName");
  return san.names.toJSON();
}

function versionOf(certPem: string): Version {
  return AsnConvert.parse(x509.PemConverter.decodeFirst(certPem), Certificate).tbsCertificate
    .version;
}

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
}

/** Asserts that `promise` rejects with a one-line CertificateError matching `pattern`. */
async function assertCertificateError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${error}`);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /[\r\n]/, "message is a single line");
    assert.match(error.message, /^[A-Z]/, "message starts upper-case");
    assert.doesNotMatch(error.message, /\.$/, "message has no trailing period");
    return true;
  });
}

function serve(cert: GeneratedCertificate): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { cert: cert.certPem, key: cert.keyPem, port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("hello over TLS"),
  );
}

async function captureConsole(fn: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => out.push(args.join(" "));
  console.error = (...args: unknown[]) => err.push(args.join(" "));
  try {
    const code = await fn();
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("generateCertificate makes a version 3 certificate with SANs for localhost, 127.0.0.1 and ::1", async () => {
  const { certPem } = await rsaCertificate();
  const cert = new x509.X509Certificate(certPem);
  assert.equal(versionOf(certPem), Version.v3);
  assert.deepEqual(sanOf(cert), [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
  ]);
  assert.equal(cert.subject, "CN=localhost");
  assert.equal(cert.issuer, "CN=localhost");
  assert.ok(await cert.isSelfSigned());
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  assert.ok(basic?.critical);
  assert.equal(basic.ca, false);
  assert.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
  assert.equal(cert.serialNumber.length, 32, "16-byte serial");
  assert.ok(parseInt(cert.serialNumber[0], 16) < 8, "positive serial");
});

Deno.test("generateCertificate defaults to RSA 2048 with SHA-256, server key usages and 365 days", async () => {
  const before = Date.now();
  const { certPem } = await rsaCertificate();
  const cert = new x509.X509Certificate(certPem);
  const algorithm = cert.publicKey.algorithm as RsaHashedKeyAlgorithm;
  assert.equal(algorithm.name, "RSASSA-PKCS1-v1_5");
  assert.equal(algorithm.modulusLength, 2048);
  assert.deepEqual(cert.signatureAlgorithm, {
    name: "RSASSA-PKCS1-v1_5",
    hash: { name: "SHA-256" },
  });
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  assert.ok(keyUsage?.critical);
  assert.equal(
    keyUsage.usages,
    x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
  );
  assert.deepEqual([...cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages], [
    x509.ExtendedKeyUsage.serverAuth,
  ]);
  assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 365 * DAY_MS);
  assert.ok(cert.notBefore.getTime() <= before - 50_000, "notBefore is about a minute ago");
  assert.ok(cert.notBefore.getTime() >= before - 5 * 60_000);
});

Deno.test("generateCertificate makes an ECDSA P-256 certificate with extra names, days and CN when asked", async () => {
  const { certPem, keyPem } = await generateCertificate({
    keyType: "ecdsa",
    days: 30,
    commonName: "api.example.test",
    names: ["api.example.test", "10.1.2.3", "LOCALHOST", "0:0:0:0:0:0:0:1", "[2001:db8::1]"],
  });
  const cert = new x509.X509Certificate(certPem);
  assert.equal(versionOf(certPem), Version.v3);
  assert.deepEqual(cert.publicKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
  assert.deepEqual(cert.signatureAlgorithm, { name: "ECDSA", hash: { name: "SHA-256" } });
  assert.equal(cert.subject, "CN=api.example.test");
  assert.deepEqual(sanOf(cert), [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
    { type: "dns", value: "api.example.test" },
    { type: "ip", value: "10.1.2.3" },
    { type: "ip", value: "2001:db8::1" },
  ]);
  assert.equal(cert.getExtension(x509.KeyUsagesExtension)?.usages, 1);
  assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 30 * DAY_MS);
  assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
});

Deno.test("generateCertificate rejects an invalid name or a non-positive number of days", async () => {
  await assertCertificateError(
    generateCertificate({ keyType: "ecdsa", names: ["not a host"] }),
    /^Invalid name "not a host": expected a DNS name or an IP address$/,
  );
  await assertCertificateError(generateCertificate({ keyType: "ecdsa", days: 0 }), /"0"/);
  await assertCertificateError(generateCertificate({ keyType: "ecdsa", days: 1.5 }), /"1.5"/);
});

Deno.test("generateCertificate writes a valid CSR with the same public key and SANs as the certificate", async () => {
  for (const generated of [await rsaCertificate(), await ecdsaCertificate()]) {
    assert.match(generated.csrPem, /^-----BEGIN CERTIFICATE REQUEST-----\n[\s\S]+\n$/);
    const csr = new x509.Pkcs10CertificateRequest(generated.csrPem);
    const cert = new x509.X509Certificate(generated.certPem);
    assert.ok(await csr.verify());
    assert.equal(csr.subject, cert.subject);
    assert.deepEqual(new Uint8Array(csr.publicKey.rawData), new Uint8Array(cert.publicKey.rawData));
    const san = csr.getExtension("2.5.29.17");
    assert.ok(san instanceof x509.SubjectAlternativeNameExtension);
    assert.deepEqual(san.names.toJSON(), sanOf(cert));
  }
});

Deno.test("writeCertificateFiles writes key.pem with mode 0600 into a new directory", async () => {
  await withTempDir(async (tmp) => {
    const dir = join(tmp, "nested", "certs");
    const paths = await writeCertificateFiles(dir, { keyType: "ecdsa" });
    assert.deepEqual(paths, certificatePaths(dir));
    assert.equal(paths.keyPath, join(dir, "key.pem"));
    assert.equal((await Deno.stat(paths.keyPath)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(paths.csrPath)).mode! & 0o777, 0o644);
    assert.equal((await Deno.stat(paths.certPath)).mode! & 0o777, 0o644);
    await loadTlsFiles(paths.certPath, paths.keyPath);
  });
});

Deno.test("writeCertificateFiles refuses to overwrite without force and replaces files with force", async () => {
  await withTempDir(async (dir) => {
    const paths = await writeCertificateFiles(dir, { keyType: "ecdsa" });
    const firstCert = await Deno.readTextFile(paths.certPath);
    await assertCertificateError(
      writeCertificateFiles(dir, { keyType: "ecdsa" }),
      new RegExp(`^Certificate files already exist in "${RegExp.escape(dir)}": use --force`),
    );
    assert.equal(await Deno.readTextFile(paths.certPath), firstCert, "untouched without force");

    // Only one file left over is enough to refuse.
    await Deno.remove(paths.certPath);
    await Deno.remove(paths.csrPath);
    await assertCertificateError(writeCertificateFiles(dir, { keyType: "ecdsa" }), /--force/);

    await Deno.chmod(paths.keyPath, 0o644);
    await writeCertificateFiles(dir, { keyType: "ecdsa", force: true });
    assert.notEqual(await Deno.readTextFile(paths.certPath), firstCert);
    assert.equal((await Deno.stat(paths.keyPath)).mode! & 0o777, 0o600, "key tightened again");
    await loadTlsFiles(paths.certPath, paths.keyPath);
  });
});

Deno.test("Deno.serve accepts the generated RSA and ECDSA certificates and fetch trusts them via caCerts", async () => {
  for (const generated of [await rsaCertificate(), await ecdsaCertificate()]) {
    const server = serve(generated);
    const client = Deno.createHttpClient({ caCerts: [generated.certPem] });
    try {
      for (const host of ["localhost", "127.0.0.1"]) {
        const res = await fetch(`https://${host}:${server.addr.port}/`, { client });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), "hello over TLS");
      }
    } finally {
      client.close();
      await server.shutdown();
    }
  }
});

testNeeding([CURL], "curl --cacert cert.pem trusts the generated certificate", async () => {
  const generated = await rsaCertificate();
  await withTempDir(async (dir) => {
    await writeFiles(dir, { "cert.pem": generated.certPem });
    const server = serve(generated);
    try {
      for (const host of ["localhost", "127.0.0.1"]) {
        const body = await outputOf("curl", [
          "--silent",
          "--show-error",
          "--fail",
          "--max-time",
          "10",
          "--cacert",
          join(dir, "cert.pem"),
          `https://${host}:${server.addr.port}/`,
        ]);
        assert.equal(body, "hello over TLS");
      }
    } finally {
      await server.shutdown();
    }
  });
});

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

testNeeding(
  [OPENSSL],
  "certsCommand writes the files into --dir, prints the fingerprint and returns 0",
  async () => {
    await withTempDir(async (tmp) => {
      const dir = join(tmp, "certs");
      const { code, stdout, stderr } = await captureConsole(() =>
        certsCommand(["--dir", dir, "--ecdsa", "--days", "30", "--name", "api.test"])
      );
      assert.equal(code, 0, stderr);
      const paths = certificatePaths(dir);
      for (const path of Object.values(paths)) assert.ok(stdout.includes(path), `prints ${path}`);
      assert.match(stdout, new RegExp(`curl --cacert ${RegExp.escape(paths.certPath)}`));

      const cert = new x509.X509Certificate(await Deno.readTextFile(paths.certPath));
      assert.equal(cert.notAfter.getTime() - cert.notBefore.getTime(), 30 * DAY_MS);
      assert.ok(sanOf(cert).some((name) => name.value === "api.test"));
      const opensslFingerprint = await outputOf("openssl", [
        "x509",
        "-in",
        paths.certPath,
        "-noout",
        "-fingerprint",
        "-sha256",
      ]);
      const fingerprint = opensslFingerprint.trim().split("=")[1];
      assert.match(stdout, new RegExp(`SHA-256 fingerprint: ${fingerprint}`));

      const again = await captureConsole(() => certsCommand(["--dir", dir, "--ecdsa"]));
      assert.equal(again.code, 1);
      assert.match(again.stderr, /^Error: Certificate files already exist in ".*": use --force/);
      const forced = await captureConsole(() => certsCommand(["--dir", dir, "--ecdsa", "--force"]));
      assert.equal(forced.code, 0, forced.stderr);
    });
  },
);

Deno.test("certsCommand returns 2 with an Error and a Usage line for wrong arguments, 1 for a bad name", async () => {
  await withTempDir(async (tmp) => {
    const unused = join(tmp, "unused");
    for (
      const [args, pattern] of [
        [["--bogus"], /^Error: Unknown option "--bogus"$/],
        [["--days", "0"], /^Error: Option "--days" takes a positive whole number, got "0"$/],
        [["--days", "ten"], /^Error: .*"ten"$/],
        [["--dir"], /^Error: Option "--dir <value>" argument missing$/],
        [["extra"], /^Error: Unexpected argument "extra"$/],
      ] as const
    ) {
      const { code, stdout, stderr } = await captureConsole(() => certsCommand([...args]));
      assert.equal(code, 2, `${args.join(" ")} fails`);
      assert.equal(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 2, stderr);
      assert.match(lines[0], pattern);
      assert.equal(lines[1], "Usage: deno task certs [options] (--help for more)");
    }
    const badName = await captureConsole(() =>
      certsCommand(["--name", "bad name!", "--ecdsa", "--dir", unused])
    );
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /^Error: Invalid name "bad name!"/);
    assert.doesNotMatch(badName.stderr.trimEnd(), /\n/);
    await assert.rejects(Deno.stat(unused), Deno.errors.NotFound, "nothing written on bad options");
  });
  const help = await captureConsole(() => certsCommand(["--help"]));
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--ecdsa/);
});
