/**
 * @module
 * The consent page: which application asks for what, as a list of the scopes in words, with
 * allow and deny buttons posting the pending request's id and CSRF token back.
 */
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";

/** What the consent page shows. */
export interface ConsentPage {
  clientName: string;
  username: string;
  /** The scopes asked for, each shown with what it means. */
  scopes: readonly string[];
  requestId: string;
  csrfToken: string;
}

/** Words for the scopes the service knows; others are shown by name. */
const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: "Confirm who you are (sign you in)",
  profile: "See your username",
  hello: "Call the greeting API as you",
};

/** What a scope means, in words. */
export function describeScope(scope: string): string {
  return SCOPE_DESCRIPTIONS[scope] ?? `Use the "${scope}" permission`;
}

/** The consent page. */
export function consentPage(page: ConsentPage): Html {
  const { clientName, username, requestId, csrfToken } = page;
  const scopes = page.scopes.map((name) =>
    html`<li>${describeScope(name)} <span class="scope-name">(${name})</span></li>`
  );
  return layout(
    "Allow access",
    html`
      <h1>Allow access?</h1>
      <p class="lead">
        <strong>${clientName}</strong> asks to act on your behalf, signed in as
        <strong>${username}</strong>. It will be able to:
      </p>
      <ul class="scopes">${scopes}</ul>
      <form method="post" action="/consent">
        <input type="hidden" name="request" value="${requestId}">
        <input type="hidden" name="csrf_token" value="${csrfToken}">
        <button type="submit" name="decision" value="allow">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>
      <footer>You will not be asked again for these permissions.</footer>
    `,
  );
}
