/**
 * @module
 * `POST /oauth/device_authorization`: the device authorization endpoint (RFC 8628 §3.1-3.2).
 */
import type { DeviceAuthorizations } from "../auth/sign_in/device_authorizations.ts";
import { formatUserCode } from "../auth/sign_in/user_codes.ts";
import type { ClientRegistry } from "../auth/clients/registry.ts";
import { singleParameter } from "../auth/parameters.ts";
import { type BodyLimits, readFormBody } from "../http/body.ts";
import type { Handler } from "../http/context.ts";
import { readParameters } from "../http/form.ts";
import { json } from "../http/json.ts";
import { authenticateClient, sourceOf } from "./_authenticate.ts";

/** What the device authorization endpoint needs. */
export interface DeviceAuthorizationDeps {
  devices: DeviceAuthorizations;
  clients: ClientRegistry;
  bodyLimits: BodyLimits;
  /** The device page's URL, shown to the person (`verification_uri`). */
  verificationUri: string;
}

/**
 * The device authorization request: a client authenticated as at the token endpoint (a public
 * one by its `client_id`), registered for the device grant, asking for `scope`, gets a device
 * code to poll with and a user code for the person, with where to enter it; a public client's
 * codes are capped per client address (429 `temporarily_unavailable` with `Retry-After`).
 */
export function createDeviceAuthorizationHandler(deps: DeviceAuthorizationDeps): Handler {
  const { devices, clients, bodyLimits, verificationUri } = deps;
  return async function deviceAuthorization(req, ctx) {
    const params = readParameters(await readFormBody(req, bodyLimits));
    const client = await authenticateClient(req, ctx, { params, clients });
    const issued = await devices.issue(client, singleParameter(params, "scope"), sourceOf(ctx));
    const userCode = formatUserCode(issued.userCode);
    const complete = new URL(verificationUri);
    complete.searchParams.set("user_code", userCode);
    return json({
      device_code: issued.deviceCode,
      user_code: userCode,
      verification_uri: verificationUri,
      verification_uri_complete: complete.href,
      expires_in: issued.expiresIn,
      interval: issued.interval,
    }, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
  };
}
