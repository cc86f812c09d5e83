/**
 * @module
 * The account page's own sign-in: the request the sign-in flow runs for it (no client, no code:
 * back to the page once signed in), and the page as the first-party "client" the flow's pages
 * name. Re-authentication is the same request with `prompt=login`.
 */
import type { RegisteredClient } from "../clients/registry.ts";
import type { AuthorizationRequest } from "./authorization_requests.ts";

/**
 * The account page as the sign-in flow sees it: first party (no consent), and named with a space,
 * which no client id may contain, so it never stands for a registered client.
 */
export const ACCOUNT_PAGE: RegisteredClient = {
  clientId: "account page",
  displayName: "your account",
  confidential: false,
  redirectUris: [],
  postLogoutRedirectUris: [],
  firstParty: true,
  scope: "openid",
  grantTypes: [],
  registeredAt: 0,
};

/**
 * A sign-in to the account page at `returnTo`: the sign-in page (with the second factor where
 * the account has one) unless the browser is signed in already, and always with `again`
 * (re-authentication); then back to the page.
 */
export function accountSignInRequest(returnTo: string, again: boolean): AuthorizationRequest {
  return {
    clientId: ACCOUNT_PAGE.clientId,
    redirectUri: returnTo,
    scope: "openid",
    codeChallenge: "",
    prompt: again ? ["login"] : [],
    account: true,
  };
}
