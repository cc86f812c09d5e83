/**
 * @module
 * Making certificates: generateCertificate's defaults, options and CSR, writeCertificateFiles'
 * modes and overwrite rules, Deno.serve and curl trusting what it makes, and the certs command.
 * Loading a certificate at start is in certs_load_test.ts.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Version } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  certificatePaths,
  generateCertificate,
  type GeneratedCertificate,
  writeCertificateFiles,
} from "../src/certs/generate.ts";
import { loadTlsFiles } from "../src/certs/load.ts";
import { certsCommand } from "../src/cli/certs.ts";
import {
  assertCertificateError,
  DAY_MS,
  ecdsaCertificate,
  rsaCertificate,
  sanOf,
  versionOf,
  writeFiles,
} from "./helpers/certificates.ts";
import { CURL, OPENSSL, testNeeding } from "./helpers/prerequisites.ts";
import { outputOf } from "./helpers/process.ts";
import { withTempDir } from "./helpers/temp_dir.ts";

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
