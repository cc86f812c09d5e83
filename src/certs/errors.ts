/**
 * @module
 * The error of the certificate tools, and the one way they word a lower-level failure.
 */

/** A certificate or key problem, with a one-line message that says what is wrong and what to do. */
export class CertificateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message.replace(/\s*[\r\n]+\s*/g, " "), options);
    this.name = "CertificateError";
  }
}

/** A lower-level error's message as one line without a trailing period, for a CertificateError. */
export function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, " ").trim().replace(/\.$/, "") || "unknown error";
}
