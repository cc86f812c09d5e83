/**
 * @module
 * `certs`: the command that replaces the original tutorial's three OpenSSL steps.
 */
import { parseArgs } from "node:util";
import { DEFAULT_CERT_DIR } from "../certs/default_paths.ts";
import { CertificateError } from "../certs/errors.ts";
import { DEFAULT_CERTIFICATE_DAYS, writeCertificateFiles } from "../certs/generate.ts";

const HELP = `Usage: deno task certs [options]

Makes a private key, a certificate signing request and a self-signed X.509 v3 certificate
for localhost, 127.0.0.1 and ::1 (the replacement for the three openssl commands).

Options:
  --dir DIR     Directory for key.pem, csr.pem and cert.pem (default "${DEFAULT_CERT_DIR}")
  --force       Replace existing files
  --days N      Days of validity (default ${DEFAULT_CERTIFICATE_DAYS})
  --ecdsa       Use an ECDSA P-256 key instead of RSA 2048
  --name NAME   Extra DNS name or IP address for the certificate (repeatable)
  -h, --help    Show this help`;

/**
 * Runs `certs`: writes key.pem, csr.pem and cert.pem and prints their paths and the SHA-256
 * fingerprint; returns the exit code (1 with an "Error: " line on stderr for bad flags or files).
 *
 * @example
 * ```ts
 * Deno.exitCode = await certsCommand(["--dir", "certs", "--ecdsa", "--name", "api.test"]);
 * ```
 */
export async function certsCommand(args: string[]): Promise<number> {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        dir: { type: "string", default: DEFAULT_CERT_DIR },
        force: { type: "boolean", default: false },
        days: { type: "string" },
        ecdsa: { type: "boolean", default: false },
        name: { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const days = parseDays(values.days);
    const keyType = values.ecdsa ? "ecdsa" : "rsa";
    const paths = await writeCertificateFiles(values.dir, {
      force: values.force,
      days,
      keyType,
      names: values.name ?? [],
    });
    const fingerprint = await sha256Fingerprint(await Deno.readTextFile(paths.certPath));
    const keyLabel = keyType === "ecdsa" ? "ECDSA P-256" : "RSA 2048";
    console.log(`Wrote ${paths.keyPath} (${keyLabel} private key, mode 0600)`);
    console.log(`Wrote ${paths.csrPath} (certificate signing request)`);
    console.log(`Wrote ${paths.certPath} (self-signed X.509 v3 certificate, ${days} days)`);
    console.log(`SHA-256 fingerprint: ${fingerprint}`);
    console.log(
      `Clients trust it with e.g.: curl --cacert ${paths.certPath} https://localhost:<port>/`,
    );
    return 0;
  } catch (error) {
    if (error instanceof CertificateError || isParseArgsError(error)) {
      console.error(`Error: ${oneLine(error)}`);
      return 1;
    }
    throw error;
  }
}

class UsageError extends Error {}

function parseDays(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CERTIFICATE_DAYS;
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`Option "--days" takes a positive whole number, got "${text}"`);
  }
  return Number(text);
}

function isParseArgsError(error: unknown): error is Error {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

function oneLine(error: Error): string {
  if (error instanceof CertificateError || error instanceof UsageError) return error.message;
  // node:util messages quote with '…' and may add a second sentence; keep the first, in "…".
  const first = error.message.split(/\.\s|\n/)[0].replace(/'([^']*)'/g, '"$1"');
  return `${first}; run with --help for usage`;
}

async function sha256Fingerprint(certPem: string): Promise<string> {
  const base64 = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
  const der = Uint8Array.fromBase64(base64);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return digest.toHex().toUpperCase().match(/../g)!.join(":");
}
