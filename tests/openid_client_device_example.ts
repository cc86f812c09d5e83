/**
 * @module
 * The device-flow example of src/auth/sign_in/README.md (RFC 8628 with openid-client): a TV or
 * command-line app shows a code, a person approves it in a browser, and the app gets its tokens.
 * It lives here so that `deno check` type-checks it and tests/device_interop_test.ts runs it
 * against the real server; it is not used otherwise.
 */
import * as client from "openid-client";

/**
 * Signs a device in. `config` comes from `client.discovery` for a client registered with
 * `--grant urn:ietf:params:oauth:grant-type:device_code`; `show` tells the person where to go and
 * which code to enter (on screen, or as a QR code of `verification_uri_complete`).
 */
export async function signInDevice(
  config: client.Configuration,
  show: (code: client.DeviceAuthorizationResponse) => void,
): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers> {
  const code = await client.initiateDeviceAuthorization(config, { scope: "openid hello" });
  show(code); // code.user_code such as "BCDF-GHJK", code.verification_uri
  // Waits `interval` seconds between polls, longer after `slow_down`, until approved, denied
  // (AccessDenied) or expired (ExpiredToken).
  return await client.pollDeviceAuthorizationGrant(config, code);
}
