/**
 * The device flow (RFC 8628) for tests: registering a device client, asking for a device code,
 * polling the token endpoint, and a person entering the user code and answering on the device
 * page with a cookie-keeping fetch browser.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DEVICE_CODE_GRANT } from "../../src/auth/clients/grants.ts";
import { newClientRecord } from "../../src/auth/clients/registration.ts";
import type { Store } from "../../src/store/store.ts";
import {
  basicHeaders,
  CookieBrowser,
  type FormFields,
  formFields,
  type Reachable,
} from "./oidc.ts";
import { postForm } from "./forms.ts";

export { DEVICE_CODE_GRANT };

/** What the device authorization endpoint answered. */
export interface DeviceCodeAnswer {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
}

/**
 * Registers a public (or, with `confidential`, a confidential) client for the device grant in
 * the store of a server or cluster, named "<id> TV", as `clients add` does.
 */
export async function registerDeviceClient(
  server: { store: Store },
  clientId: string,
  options: { confidential?: boolean; firstParty?: boolean; refresh?: boolean } = {},
): Promise<{ clientId: string; secret?: string }> {
  const { record, secret } = await newClientRecord({
    clientId,
    redirectUris: [],
    postLogoutRedirectUris: [],
    public: !options.confidential,
    firstParty: options.firstParty ?? false,
    name: `${clientId} TV`,
    scope: "openid profile hello",
    grantTypes: [DEVICE_CODE_GRANT, ...(options.refresh === false ? [] : ["refresh_token"])],
  }, ["openid", "profile", "hello"]);
  await server.store.addClient(record);
  return { clientId, secret };
}

/** Posts to the device authorization endpoint as a public client (or with `basic`). */
export function deviceAuthorization(
  server: Reachable,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
): Promise<{ res: Response; body: Record<string, unknown> }> {
  return postForm(server, "/oauth/device_authorization", form, basicHeaders(basic));
}

/** A device code for a public client, which must be issued. */
export async function deviceCode(
  server: Reachable,
  clientId: string,
  scope = "openid hello",
): Promise<DeviceCodeAnswer> {
  const { res, body } = await deviceAuthorization(server, { client_id: clientId, scope });
  assert.equal(res.status, 200, JSON.stringify(body));
  return body as unknown as DeviceCodeAnswer;
}

/** One poll of the token endpoint by a public client. */
export async function poll(
  server: Reachable,
  clientId: string,
  code: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/oauth/token`, {
    client: server.client,
    method: "POST",
    body: new URLSearchParams({
      grant_type: DEVICE_CODE_GRANT,
      device_code: code,
      client_id: clientId,
    }),
  });
  return { status: res.status, body: await res.json() };
}

/** Opens the device page (with the link's code, if given) and returns its form. */
export async function codeForm(browser: CookieBrowser, userCode?: string): Promise<FormFields> {
  const query = userCode === undefined ? "" : `?user_code=${encodeURIComponent(userCode)}`;
  const res = await browser.get(`${browser.server.url}/device${query}`);
  const html = await res.text();
  assert.equal(res.status, 200, html);
  assert.match(html, /<h1>Connect a device<\/h1>/);
  return formFields(html);
}

/** Enters a user code on the device page; returns the answer. */
export async function enterCode(browser: CookieBrowser, userCode: string): Promise<Response> {
  return await browser.post("/device", { ...await codeForm(browser), user_code: userCode });
}

/**
 * The whole of a person's part: enters `userCode`, signs in when asked (with `secondFactor`'s code
 * when asked for one) and answers; returns the final page.
 */
export async function answerDevice(
  browser: CookieBrowser,
  userCode: string,
  options: {
    username?: string;
    password: string;
    decision?: "approve" | "deny";
    secondFactor?: () => Promise<string>;
  },
): Promise<{ status: number; html: string }> {
  let res = await enterCode(browser, userCode);
  let html = await res.text();
  assert.equal(res.status, 200, html);
  if (html.includes("<h1>Sign in</h1>")) {
    res = await browser.signIn(formFields(html), options.username ?? "alice", options.password);
    html = await res.text();
    assert.equal(res.status, 200, html);
  }
  if (html.includes('action="/sign-in/second-factor"')) {
    assert.ok(options.secondFactor, `A second factor was asked for: ${html}`);
    res = await browser.post("/sign-in/second-factor", {
      ...formFields(html),
      code: await options.secondFactor(),
    });
    html = await res.text();
    assert.equal(res.status, 200, html);
  }
  assert.match(html, /<h1>Connect this device\?<\/h1>/, html);
  res = await browser.post("/device/confirm", {
    ...formFields(html),
    decision: options.decision ?? "approve",
  });
  return { status: res.status, html: await res.text() };
}

export { CookieBrowser };
