/**
 * @module
 * The passkey parts of the pages: the form a passkey signs in with (on the sign-in page, with
 * passkey autofill, and on the second-factor page), the passkeys on the account page with their
 * rename and remove forms, and the page that makes a new one. The forms are hidden until the
 * script ({@linkcode PASSKEYS_SCRIPT_PATH}) finds WebAuthn in the browser; it fills in the
 * credential and posts them.
 */
import { isoTime } from "../clock.ts";
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { PASSKEYS_SCRIPT_PATH } from "./passkeys_script.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** The script tag of a page with passkey forms. */
export function passkeysScript(): Html {
  return html`<script src="${PASSKEYS_SCRIPT_PATH}" defer></script>`;
}

/**
 * A form answering a passkey challenge (`options`, for `navigator.credentials.get`) to
 * `action`; with `autofill` the username field's passkey autofill answers it too. It names the
 * same pending step as the page's other form, whose fields stay the only `request` and
 * `csrf_token` values in the page (scripts that read them find one each): the script copies them
 * in from the form's data attributes when it posts.
 */
export function passkeyRequestForm(
  form: StepForm & { action: string; options: unknown; label: string; autofill?: boolean },
): Html {
  const asks = html`data-passkey-request="${JSON.stringify(form.options)}"
    data-autofill="${form.autofill ? "yes" : "no"}"`;
  return credentialForm(form, asks, "passkey-button");
}

/**
 * A form making a new passkey (`options`, for `navigator.credentials.create`) and posting it to
 * `action`, naming the page's pending step as {@linkcode passkeyRequestForm} does.
 */
export function passkeyCreationForm(
  form: StepForm & { action: string; options: unknown; label: string },
): Html {
  const asks = html`data-passkey-create="${JSON.stringify(form.options)}"`;
  return credentialForm(form, asks, "create-passkey");
}

/** The form the script fills in with a credential: what it `asks` the browser, and its button. */
function credentialForm(
  form: StepForm & { action: string; label: string },
  asks: Html,
  buttonId: string,
): Html {
  return html`
    <form method="post" action="${form.action}" class="passkey" ${asks}
      data-request="${form.requestId}" data-csrf-token="${form.csrfToken}">
      <input type="hidden" name="request">
      <input type="hidden" name="csrf_token">
      <input type="hidden" name="credential" value="">
      <p class="error passkey-error" role="alert" hidden></p>
      <button type="button" class="secondary" id="${buttonId}" hidden>${form.label}</button>
    </form>
  `;
}

/** A passkey as the account page lists it. */
export interface PasskeyItem {
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
  backupEligible: boolean;
}

/**
 * The account page's passkey section: the list with rename and remove, and "Add a passkey",
 * shown by the script where the browser has WebAuthn.
 */
export function passkeySection(form: StepForm & { passkeys: PasskeyItem[] }): Html {
  const hidden = stepFields(form);
  return html`
    <h2>Passkeys</h2>
    <p>A passkey signs you in without a password, and counts as your second step after one.</p>
    <noscript><p>Adding a passkey needs JavaScript.</p></noscript>
    ${form.passkeys.length === 0 && html`<p>You have no passkey.</p>`}
    <ul class="passkeys">${form.passkeys.map((passkey) =>
      html`<li data-passkey-id="${passkey.id}"><strong class="passkey-name">${passkey.name}</strong>
        (${passkey.backupEligible ? "synced" : "this device only"}), added ${
        isoTime(passkey.createdAt)
      }, ${
        passkey.lastUsedAt === null ? "never used" : html`last used ${isoTime(passkey.lastUsedAt)}`
      }
        <form method="post" action="/account/passkeys/rename" class="inline">
          ${hidden}
          <input type="hidden" name="id" value="${passkey.id}">
          <label>New name <input type="text" name="name" required maxlength="64"></label>
          <button type="submit">Rename</button>
        </form>
        <form method="post" action="/account/passkeys/remove" class="inline">
          ${hidden}
          <input type="hidden" name="id" value="${passkey.id}">
          <button type="submit" class="remove-passkey">Remove</button>
        </form>
      </li>`
    )}</ul>
    <form method="post" action="/account/passkeys" id="add-passkey" hidden>
      ${hidden}
      <label for="passkey-name">Name of the new passkey</label>
      <input type="text" id="passkey-name" name="name" maxlength="64" placeholder="Passkey">
      <button type="submit">Add a passkey</button>
    </form>
    ${passkeysScript()}
  `;
}

/** The page that makes a passkey: one button that asks the browser for it. */
export function passkeyRegistrationPage(
  page: StepForm & { username: string; name: string; options: unknown },
): Html {
  return layout(
    "Add a passkey",
    html`
      <h1>Add a passkey</h1>
      <p class="lead">A passkey named <strong>${page.name || "Passkey"}</strong> for
        <strong>${page.username}</strong>. Your browser asks you to unlock your device or
        security key.</p>
      <noscript><p class="error">Adding a passkey needs JavaScript.</p></noscript>
      <form method="post" action="/account/passkeys/finish"
        data-passkey-create="${JSON.stringify(page.options)}">
        ${stepFields(page)}
        <input type="hidden" name="credential" value="">
        <p class="error passkey-error" role="alert" hidden></p>
        <button type="button" id="create-passkey" hidden>Create the passkey</button>
      </form>
      <p><a href="/account">Back to your account</a></p>
      ${passkeysScript()}
    `,
  );
}
