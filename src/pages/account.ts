/**
 * @module
 * The account page of a signed-in person: the overview with its forms (the second factor, the
 * signed-in browsers, apps and remembered devices with a sign-out for each, sign-out
 * everywhere, and the password), the set-up of an
 * authenticator app (QR code, the secret in text, the form for the first code), and new recovery
 * codes shown once. Plain forms that work without JavaScript; only adding a passkey needs it.
 */
import { isoTime } from "../clock.ts";
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { authenticatorSecret } from "./qr_code.ts";
import { type PasskeyItem, passkeySection } from "./passkeys.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** What the overview shows. */
export interface AccountOverviewPage extends StepForm {
  username: string;
  /** Whether an authenticator app is set up. */
  enrolled: boolean;
  /** The person's passkeys. */
  passkeys: PasskeyItem[];
  recoveryCodesLeft: number;
  /** The person's signed-in browsers. */
  browsers: { sid: string; signedInAt: number; current: boolean }[];
  /** The apps holding sessions of the person. */
  apps: { clientId: string; clientName: string; lastSignInAt: number; sessions: number }[];
  /** The devices the person's logins are remembered from. */
  devices: { deviceId: string; label: string; firstSeenAt: number; lastSeenAt: number }[];
  /** What the last change did. */
  notice?: string;
  /** Why the last change failed. */
  error?: string;
}

/** The overview: the second factor's state and what can be done about it. */
export function accountOverviewPage(page: AccountOverviewPage): Html {
  const signedInAt = page.browsers.find((browser) => browser.current)?.signedInAt;
  const factor = page.enrolled
    ? html`
      <p>Two-step sign-in is <strong>on</strong>: you are asked for a code from your
        authenticator app after your password.</p>
      <p>${page.recoveryCodesLeft} unused recovery codes left.</p>
      ${accountForm(page, "/account/recovery-codes", "Make new recovery codes")}
    `
    : page.passkeys.length > 0
    ? html`
      <p>Two-step sign-in is <strong>on</strong>: you are asked for one of your passkeys after
        your password.</p>
      ${accountForm(page, "/account/totp", "Set up an authenticator app too")}
    `
    : html`
      <p>Two-step sign-in is <strong>off</strong>.</p>
      ${accountForm(page, "/account/totp", "Set up an authenticator app")}
    `;
  return layout(
    "Your account",
    html`
      <h1>Your account</h1>
      <p class="lead">Signed in as <strong>${page.username}</strong>${signedInAt !== undefined &&
        html`, ${isoTime(signedInAt)}`}</p>
      <form method="get" action="/account/sign-in" class="inline">
        <input type="hidden" name="prompt" value="login">
        <button type="submit" class="secondary">Sign in again</button>
      </form>
      <p>Adding or removing a passkey, setting up an authenticator app and making new recovery
        codes need a sign-in of the last ten minutes.</p>
      ${page.notice && html`<p class="notice" role="status">${page.notice}</p>`}
      ${page.error && html`<p class="error" role="alert" id="account-error">${page.error}</p>`}
      <h2>Two-step sign-in</h2>
      ${factor}
      ${passkeySection(page)}
      <h2>Signed-in browsers</h2>
      <ul class="sessions">${page.browsers.map((browser) =>
        html`<li>Signed in ${isoTime(browser.signedInAt)}${
          browser.current && html`
            <strong>(this browser)</strong>
          `
        }${signOutForm(page, { sid: browser.sid }, "Sign out")}</li>`
      )}</ul>
      <h2>Signed-in apps</h2>
      ${page.apps.length === 0 && html`<p>No app holds a session of yours.</p>`}
      <ul class="sessions">${page.apps.map((app) =>
        html`<li><strong>${app.clientName}</strong>: ${app.sessions} session(s), the last from ${
          isoTime(app.lastSignInAt)
        }${signOutForm(page, { client_id: app.clientId }, "Sign out")}</li>`
      )}</ul>
      <h2>Remembered devices</h2>
      <p>A device you signed in from is recognised, so that someone guessing your password
        elsewhere does not lock it out. Forget one you do not know.</p>
      ${page.devices.length === 0 && html`<p>No device is remembered.</p>`}
      <ul class="sessions">${page.devices.map((device) =>
        html`<li><strong>${device.label}</strong>: first ${isoTime(device.firstSeenAt)}, last ${
          isoTime(device.lastSeenAt)
        }${signOutForm(page, { device: device.deviceId }, "Forget")}</li>`
      )}</ul>
      ${signOutForm(page, { everywhere: "yes" }, "Sign out everywhere")}
      <h2>Password</h2>
      <form method="post" action="/account/password">
        ${stepFields(page)}
        <input type="text" name="username" value="${page.username}" autocomplete="username"
          hidden>
        <label for="current-password">Current password</label>
        <input type="password" id="current-password" name="current_password"
          autocomplete="current-password" required maxlength="1024">
        <label for="new-password">New password</label>
        <input type="password" id="new-password" name="new_password" autocomplete="new-password"
          required minlength="8" maxlength="1024">
        <button type="submit">Change password</button>
      </form>
    `,
  );
}

/** What the set-up of an authenticator app shows. */
export interface TotpEnrolmentPage extends StepForm {
  username: string;
  secret: string;
  uri: string;
  /** Why the last code was refused. */
  error?: string;
}

/** The set-up of an authenticator app: scan or type the secret, then give one code. */
export function totpEnrolmentPage(page: TotpEnrolmentPage): Html {
  const describedBy = page.error ? "code-error" : undefined;
  return layout(
    "Set up an authenticator app",
    html`
      <h1>Set up an authenticator app</h1>
      <p class="lead">Scan this code with your authenticator app:</p>
      ${authenticatorSecret(page.uri, page.secret)}
      ${page.error && html`<p class="error" role="alert" id="code-error">${page.error}</p>`}
      <form method="post" action="/account/totp/confirm">
        ${stepFields(page)}
        <label for="code">The code your app shows now</label>
        <input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="numeric"
          required maxlength="6" aria-describedby="${describedBy}" autofocus>
        <button type="submit">Turn on two-step sign-in</button>
      </form>
    `,
  );
}

/**
 * New recovery codes, shown this once; during a sign-in (`next`) with a form that goes on to the
 * application, else with a link back to the account page.
 */
export function recoveryCodesPage(page: { codes: string[]; next?: StepForm }): Html {
  const onward = page.next
    ? html`
      <form method="post" action="/sign-in/continue">
        ${stepFields(page.next)}
        <button type="submit">Continue</button>
      </form>
    `
    : html`<p><a href="/account">Back to your account</a></p>`;
  return layout(
    "Your recovery codes",
    html`
      <h1>Your recovery codes</h1>
      <p class="lead">Keep these somewhere safe. Each works once, in place of a code from your
        app. They are not shown again.</p>
      <ul class="recovery-codes">${page.codes.map((code) =>
        html`<li><code>${code}</code></li>`
      )}</ul>
      ${onward}
    `,
  );
}

function signOutForm(form: StepForm, fields: Record<string, string>, label: string): Html {
  return html`
    <form method="post" action="/account/sign-out" class="inline">
      ${stepFields(form)}
      ${Object.entries(fields).map(([name, value]) =>
        html`<input type="hidden" name="${name}" value="${value}">`
      )}
      <button type="submit">${label}</button>
    </form>
  `;
}

function accountForm(form: StepForm, action: string, label: string): Html {
  return html`
    <form method="post" action="${action}">
      ${stepFields(form)}
      <button type="submit">${label}</button>
    </form>
  `;
}
