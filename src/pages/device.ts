/**
 * @module
 * The device page (RFC 8628 §3.3): the form for the user code a device shows, the confirmation
 * naming the application, the code and the scopes with approve and deny buttons, and the answer.
 * Plain forms posting the pending step's id and CSRF token back; no script.
 */
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { scopeDecision } from "./scopes.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** Where the code form posts. */
export const DEVICE_PATH = "/device";
/** Where the confirmation posts. */
export const DEVICE_CONFIRM_PATH = "/device/confirm";

/** The code form. */
export function enterCodePage(
  page: StepForm & { userCode?: string; error?: string },
): Html {
  const describedBy = page.error ? "device-error" : undefined;
  return layout(
    "Connect a device",
    html`
      <h1>Connect a device</h1>
      <p class="lead">Enter the code shown on the device you want to sign in on.</p>
      ${page.error && html`<p class="error" role="alert" id="device-error">${page.error}</p>`}
      <form method="post" action="${DEVICE_PATH}">
        ${stepFields(page)}
        <label for="user_code">Code</label>
        <input type="text" id="user_code" name="user_code" value="${page.userCode}"
          autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required
          maxlength="32" placeholder="XXXX-XXXX" aria-describedby="${describedBy}" autofocus>
        <button type="submit">Continue</button>
      </form>
      <footer>Only enter a code that you see on your own device right now.</footer>
    `,
  );
}

/** The confirmation: which application asks, for which device code, to do what. */
export function deviceConfirmationPage(
  page: StepForm & {
    clientName: string;
    username: string;
    userCode: string;
    scopes: readonly string[];
  },
): Html {
  return layout(
    "Connect a device",
    html`
      <h1>Connect this device?</h1>
      <p class="lead">
        <strong>${page.clientName}</strong> on the device showing <code>${page.userCode}</code>
        asks to act on your behalf, signed in as <strong>${page.username}</strong>. It will be
        able to:
      </p>
      ${scopeDecision({
        ...page,
        action: DEVICE_CONFIRM_PATH,
        grant: { value: "approve", label: "Approve" },
      })}
      <footer>Approve only if you started this on your own device just now.</footer>
    `,
  );
}

/** What the person's answer did. */
export function deviceAnsweredPage(page: { approved: boolean; clientName: string }): Html {
  const title = page.approved ? "Device connected" : "Device not connected";
  const message = page.approved
    ? html`<strong>${page.clientName}</strong> is signed in on your device; you can close this page.`
    : html`<strong>${page.clientName}</strong> was not allowed; your device will be told.`;
  return layout(
    title,
    html`
      <h1>${title}</h1>
      <p class="lead" role="status">${message}</p>
    `,
  );
}
