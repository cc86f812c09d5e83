/**
 * @module
 * Access tokens that are not well-formed JWS or no longer match their signature: a tampered
 * header, payload or signature, characters outside base64url, padding, the wrong number of
 * segments, an empty token and a header that is not JSON. GET /hello refuses each with the reason.
 */
import {
  assertForgeriesRefused,
  b64url,
  decodeSegment,
  flip,
  forgeryKit,
  segment,
  startForgeryTarget,
  utf8,
} from "./helpers/forged_tokens.ts";

const MALFORMED = "Malformed token";
const SIGNATURE = "Signature verification failed";

Deno.test("GET /hello answers 401 invalid_token to malformed and tampered tokens", async (t) => {
  await using server = await startForgeryTarget();
  const { real, realHeader, realPayload, realSignature, header } = await forgeryKit(server);
  await assertForgeriesRefused(t, server, {
    real,
    forgeries: [
      {
        name: "a tampered header (typ changed), original signature",
        msg: SIGNATURE,
        forge: () => `${segment({ ...header, typ: "JWT" })}.${realPayload}.${realSignature}`,
      },
      {
        name: "a tampered payload (sub admin), original signature",
        msg: SIGNATURE,
        forge: () =>
          `${realHeader}.${
            segment({ ...decodeSegment(realPayload), sub: "admin" })
          }.${realSignature}`,
      },
      {
        name: "a tampered signature (bits flipped)",
        msg: SIGNATURE,
        forge: () => `${realHeader}.${realPayload}.${flip(realSignature)}`,
      },
      {
        name: "a truncated signature",
        msg: SIGNATURE,
        forge: () => `${realHeader}.${realPayload}.${realSignature.slice(0, 40)}`,
      },
      {
        name: "characters outside base64url (+ and /)",
        msg: MALFORMED,
        forge: () =>
          `${realHeader}.${realPayload.slice(0, 10)}+/${realPayload.slice(12)}.${realSignature}`,
      },
      {
        name: "characters outside base64url and token68 (* and !)",
        msg: MALFORMED,
        forge: () =>
          `${realHeader}.${realPayload.slice(0, 10)}*!${realPayload.slice(12)}.${realSignature}`,
      },
      {
        name: "base64 padding",
        msg: MALFORMED,
        forge: () => `${realHeader}.${realPayload}.${realSignature}==`,
      },
      { name: "two segments", msg: MALFORMED, forge: () => `${realHeader}.${realPayload}` },
      { name: "four segments", msg: MALFORMED, forge: () => `${real}.${realSignature}` },
      {
        name: "five segments (JWE shape)",
        msg: MALFORMED,
        forge: () => `${realHeader}.${realPayload}.x.y.${realSignature}`,
      },
      {
        name: "an empty string",
        msg: 'Authorization header must be "Bearer <token>"',
        forge: () => "",
      },
      {
        name: "a header that is not JSON",
        msg: MALFORMED,
        forge: () => `${b64url(utf8("not json"))}.${realPayload}.${realSignature}`,
      },
    ],
  });
});
