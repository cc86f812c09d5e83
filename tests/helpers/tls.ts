/**
 * Certificates for tests: one P-256 certificate for localhost shared by a test process, a bare
 * HTTPS server on it, the files a server reads it from, and an X.509 version 1 certificate made
 * the tutorial's way with openssl.
 *
 * @module
 */
import { generateCertificate } from "../../src/certs/generate.ts";
import { outputOf } from "./process.ts";

/** A certificate and its private key, in PEM. */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

/** Where a server finds its certificate and key. */
export interface TlsFiles {
  certPath: string;
  keyPath: string;
}

let certificate: Promise<PemPair> | undefined;

/** A P-256 certificate for localhost shared by the tests of one process. */
export function testCertificate(): Promise<PemPair> {
  certificate ??= generateCertificate({ keyType: "ecdsa" });
  return certificate;
}

/**
 * Serves `handler` over HTTPS with the {@linkcode testCertificate} on a free loopback port,
 * without the listening line; reach it as `https://localhost:${server.addr.port}`.
 */
export async function serveTls(handler: Deno.ServeHandler): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const { certPem, keyPem } = await testCertificate();
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certPem, key: keyPem, onListen() {} },
    handler,
  );
}

/**
 * Writes `pair` (the {@linkcode testCertificate} when absent) into `dir` as certs/cert.pem and
 * certs/key.pem, the key readable by its owner only: the default layout, and the only place the
 * serve task may read a certificate from when it runs in `dir`.
 */
export async function writeTlsFiles(dir: string, pair?: PemPair): Promise<TlsFiles> {
  const { certPem, keyPem } = pair ?? await testCertificate();
  await Deno.mkdir(`${dir}/certs`, { recursive: true });
  const files = { certPath: `${dir}/certs/cert.pem`, keyPath: `${dir}/certs/key.pem` };
  await Deno.writeTextFile(files.certPath, certPem);
  await Deno.writeTextFile(files.keyPath, keyPem, { mode: 0o600 });
  return files;
}

/**
 * Makes an RSA key and a self-signed X.509 version 1 certificate for localhost in `dir` with the
 * tutorial's three openssl commands (genrsa, req, x509 -req); needs openssl on PATH.
 */
export async function opensslVersion1Certificate(
  dir: string,
  names: { cert: string; key: string } = { cert: "certificate.pem", key: "private_key.pem" },
): Promise<void> {
  const openssl = (...args: string[]) => outputOf("openssl", args, { cwd: dir });
  await openssl("genrsa", "-out", names.key, "2048");
  await openssl("req", "-new", "-key", names.key, "-out", "csr.pem", "-subj", "/CN=localhost");
  await openssl(
    ..."x509 -req -days 365 -in csr.pem -signkey".split(" "),
    names.key,
    "-out",
    names.cert,
  );
}
