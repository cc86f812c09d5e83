/**
 * @module
 * The sign-in page: a plain form that works without JavaScript, with labelled fields that
 * password managers understand, posting the pending request's id and CSRF token back; where
 * passkeys are offered, also their button and autofill, driven by the service's own script.
 */
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { passkeyRequestForm, passkeysScript } from "./passkeys.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** What the sign-in page shows. */
export interface SignInPage extends StepForm {
  /** The application the user signs in to. */
  clientName: string;
  /** The username to fill in (the one just tried, or a `login_hint`). */
  username?: string;
  /** One generic message after a failed attempt. */
  error?: string;
  /** What `navigator.credentials.get` needs to sign in with a passkey instead (same form ids). */
  passkeyOptions?: unknown;
}

/** The sign-in page. */
export function signInPage(page: SignInPage): Html {
  // The field to type into first: the password once the username is known.
  const focusUsername = page.username ? "" : "autofocus";
  const focusPassword = page.username ? "autofocus" : "";
  const describedBy = page.error ? "sign-in-error" : undefined;
  return layout(
    "Sign in",
    html`
      <h1>Sign in</h1>
      <p class="lead">to continue to <strong>${page.clientName}</strong></p>
      ${page.error && html`<p class="error" role="alert" id="sign-in-error">${page.error}</p>`}
      <form method="post" action="/sign-in">
        ${stepFields(page)}
        <label for="username">Username</label>
        <input type="text" id="username" name="username" value="${page.username}"
          autocomplete="${page.passkeyOptions
            ? "username webauthn"
            : "username"}" autocapitalize="none" spellcheck="false" required maxlength="64"
          aria-describedby="${describedBy}" ${focusUsername}>
        <label for="password">Password</label>
        <input type="password" id="password" name="password" autocomplete="current-password"
          required maxlength="1024" ${focusPassword}>
        <button type="submit">Sign in</button>
      </form>
      ${page.passkeyOptions && html`
        ${passkeyRequestForm({
          action: "/sign-in/passkey",
          requestId: page.requestId,
          csrfToken: page.csrfToken,
          options: page.passkeyOptions,
          label: "Sign in with a passkey",
          // Not again after a failed attempt: a refused passkey would be offered in a loop.
          autofill: page.error === undefined,
        })}
        ${passkeysScript()}
      `}
    `,
  );
}
