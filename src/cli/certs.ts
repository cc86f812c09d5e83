/**
 * @module
 * `certs`: the command that replaces the original tutorial's three OpenSSL steps.
 */
import { CertificateError } from "../certs/errors.ts";
import { DEFAULT_CERTIFICATE_DAYS, writeCertificateFiles } from "../certs/generate.ts";
import { DEFAULT_CERT_DIR } from "../certs/default_paths.ts";
import { allowed } from "../file_permissions.ts";
import {
  type CommandSpec,
  parseCommandLine,
  USAGE_EXIT_CODE,
  UsageError,
  usageErrorLines,
  usageLine,
} from "../usage.ts";

/** The `certs` command, from which its parser and help are made. */
export const CERTS_COMMAND: CommandSpec = {
  name: "certs",
  summary:
    "Make a private key, a certificate signing request and a self-signed X.509 v3 certificate for localhost, 127.0.0.1 and ::1 (the replacement for the tutorial's three openssl commands)",
  details: [
    `The task may write only under ${DEFAULT_CERT_DIR}/ (--dir ${DEFAULT_CERT_DIR}/NAME works); serve reads ${DEFAULT_CERT_DIR}/cert.pem and ${DEFAULT_CERT_DIR}/key.pem unless TLS_CERT and TLS_KEY name other files.`,
  ],
  options: [
    {
      name: "dir",
      value: "DIR",
      help: `Directory for key.pem, csr.pem and cert.pem (default ${DEFAULT_CERT_DIR})`,
    },
    { name: "force", help: "Replace existing files" },
    { name: "days", value: "N", help: `Days of validity (default ${DEFAULT_CERTIFICATE_DAYS})` },
    { name: "ecdsa", help: "Use an ECDSA P-256 key instead of RSA 2048" },
    {
      name: "name",
      value: "NAME",
      multiple: true,
      help: "Extra DNS name or IP address for the certificate",
    },
  ],
};

/**
 * Runs `certs`: writes key.pem, csr.pem and cert.pem and prints their paths and the SHA-256
 * fingerprint; returns the exit code: 2 with an "Error: " and a "Usage: " line on stderr for
 * wrong arguments, 1 with an "Error: " line for files it cannot write.
 *
 * @example
 * ```ts
 * Deno.exitCode = await certsCommand(["--dir", "certs", "--ecdsa", "--name", "api.test"]);
 * ```
 */
export async function certsCommand(args: string[]): Promise<number> {
  try {
    const invocation = parseCommandLine(CERTS_COMMAND, args);
    if (invocation.help !== undefined) {
      console.log(invocation.help);
      return 0;
    }
    const { values } = invocation;
    const days = parseDays(values.days as string | undefined);
    const keyType = values.ecdsa ? "ecdsa" : "rsa";
    const dir = (values.dir as string | undefined) ?? DEFAULT_CERT_DIR;
    if (!allowed("write", dir)) {
      throw new CertificateError(
        `--dir "${dir}" is outside what this process may write (the certs task writes only under ${DEFAULT_CERT_DIR}/): use --dir ${DEFAULT_CERT_DIR}/NAME (and TLS_CERT and TLS_KEY naming the files there), or add "${dir}" to the write permission of the certs task in deno.json`,
      );
    }
    const paths = await writeCertificateFiles(dir, {
      force: values.force === true,
      days,
      keyType,
      names: (values.name ?? []) as string[],
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
    if (error instanceof UsageError) {
      for (const line of usageErrorLines(error)) console.error(line);
      return USAGE_EXIT_CODE;
    }
    if (error instanceof CertificateError) {
      console.error(`Error: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function parseDays(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CERTIFICATE_DAYS;
  if (!/^\d+$/.test(text) || Number(text) <= 0 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(
      `Option "--days" takes a positive whole number, got "${text}"`,
      usageLine(CERTS_COMMAND),
    );
  }
  return Number(text);
}

async function sha256Fingerprint(certPem: string): Promise<string> {
  const base64 = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
  const der = Uint8Array.fromBase64(base64);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return digest.toHex().toUpperCase().match(/../g)!.join(":");
}
