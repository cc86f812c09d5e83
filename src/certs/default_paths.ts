/**
 * @module
 * Where the certificate and key live when nothing says otherwise: the folder `deno task certs`
 * and development mode write to, and the two files the server reads from it. Configuration,
 * the certificate tools and the command line all take these names from here.
 */

/** Where development mode and `deno task certs` put the certificate and key. */
export const DEFAULT_CERT_DIR = "certs";
/** `TLS_CERT` when unset. */
export const DEFAULT_TLS_CERT = `${DEFAULT_CERT_DIR}/cert.pem`;
/** `TLS_KEY` when unset. */
export const DEFAULT_TLS_KEY = `${DEFAULT_CERT_DIR}/key.pem`;
