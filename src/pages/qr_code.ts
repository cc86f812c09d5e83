/**
 * @module
 * A QR code as inline SVG, drawn server-side from the modules `uqr` computes: one path of dark
 * squares inside a quiet zone, built with the escaping template like every page, so no script,
 * image request or outside markup is involved.
 */
import { encode } from "uqr";
import { type Html, html } from "../http/html.ts";

/** Light modules around the code, as the QR specification asks. */
const QUIET_ZONE = 4;

/** The QR code of `text` as an `<svg>` element labelled `label`. */
export function qrCodeSvg(text: string, label: string): Html {
  const { size, data } = encode(text, { ecc: "M", border: 0 });
  const moves: string[] = [];
  data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) moves.push(`M${x + QUIET_ZONE} ${y + QUIET_ZONE}h1v1h-1z`);
    })
  );
  const extent = size + 2 * QUIET_ZONE;
  return html`
    <svg class="qr-code" xmlns="http://www.w3.org/2000/svg" role="img"
      aria-label="${label}" viewBox="0 0 ${extent} ${extent}" shape-rendering="crispEdges">
      <rect width="${extent}" height="${extent}" fill="#fff" />
      <path fill="#000" d="${moves.join("")}" />
    </svg>
  `;
}

/** An authenticator secret to set up: its `otpauth:` URI as a QR code, and the secret as text. */
export function authenticatorSecret(uri: string, secret: string): Html {
  return html`
    ${qrCodeSvg(uri, "QR code of the authenticator secret")}
    <p>or type this secret into it: <code id="totp-secret">${secret}</code></p>
  `;
}
