/**
 * @module
 * The page that asks for the second factor after a right password: one field for a code from
 * the authenticator app or a recovery code, a plain form that works without JavaScript. Where
 * every account must have a second factor and this one has none, it first shows the secret to
 * set up.
 */
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { authenticatorSecret } from "./qr_code.ts";
import { passkeyCreationForm, passkeyRequestForm, passkeysScript } from "./passkeys.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** What the second-factor page shows. */
export interface SecondFactorPage extends StepForm {
  /** The application the user signs in to. */
  clientName: string;
  /** A second factor to set up first (every account must have one): its secret and URI. */
  enrolment?: { secret: string; uri: string };
  /** Why the last code (or passkey) was refused. */
  error?: string;
  /** Whether a code is asked for; false where only a passkey is set up. */
  authenticatorApp?: boolean;
  /** What `navigator.credentials.get` needs, where a passkey of the user may answer. */
  passkeyOptions?: unknown;
  /** What `navigator.credentials.create` needs, where a passkey may be set up instead. */
  passkeyCreationOptions?: unknown;
}

/** The second-factor page. */
export function secondFactorPage(page: SecondFactorPage): Html {
  const describedBy = page.error ? "code-error" : undefined;
  const { enrolment } = page;
  const codeForm = page.authenticatorApp !== false;
  const title = enrolment
    ? "Set up two-step sign-in"
    : codeForm
    ? "Enter your code"
    : "Use your passkey";
  return layout(
    title,
    html`
      <h1>${title}</h1>
      <p class="lead">to continue to <strong>${page.clientName}</strong></p>
      ${enrolment && html`
        <p>This service asks for a code from an authenticator app at every sign-in. Scan this
          code with your app:</p>
        ${authenticatorSecret(enrolment.uri, enrolment.secret)}
      `}
      ${page.error && html`<p class="error" role="alert" id="code-error">${page.error}</p>`}
      ${codeForm && html`
        <form method="post" action="/sign-in/second-factor">
          ${stepFields(page)}
          <label for="code">Code from your authenticator app, or a recovery code</label>
          <input type="text" id="code" name="code" autocomplete="one-time-code"
            autocapitalize="none" spellcheck="false" required maxlength="32"
            aria-describedby="${describedBy}" autofocus>
          <button type="submit">Continue</button>
        </form>
      `}
      ${page.passkeyOptions && html`
        ${!codeForm && html`<p>Confirm it is you with one of your passkeys.</p>`}
        <noscript><p class="error">A passkey needs JavaScript.</p></noscript>
        ${passkeyRequestForm({
          action: "/sign-in/second-factor/passkey",
          requestId: page.requestId,
          csrfToken: page.csrfToken,
          options: page.passkeyOptions,
          label: "Use a passkey",
        })}
        ${passkeysScript()}
      `}
      ${page.passkeyCreationOptions && html`
        <p>Or make a passkey your second step: your device or security key makes one now.</p>
        ${passkeyCreationForm({
          action: "/sign-in/second-factor/new-passkey",
          requestId: page.requestId,
          csrfToken: page.csrfToken,
          options: page.passkeyCreationOptions,
          label: "Use a passkey instead",
        })}
        ${passkeysScript()}
      `}
    `,
  );
}
