/**
 * @module
 * The one script of the pages, served from this service (`script-src 'self'`, nothing inline):
 * it turns the passkey forms the server rendered into WebAuthn calls. A form with
 * `data-passkey-request` (sign-in, second factor) asks `navigator.credentials.get`, from its
 * button and, with `data-autofill`, from the username field's passkey autofill (conditional
 * mediation); a form with `data-passkey-create` asks `navigator.credentials.create`. The
 * credential goes back as JSON (binary values base64url) in the form's `credential` field and
 * the form is posted as any other. Without script the forms stay hidden and passwords work.
 */

/** Where pages load the script. */
export const PASSKEYS_SCRIPT_PATH = "/assets/passkeys.js";

/** The script. */
export const PASSKEYS_SCRIPT = `"use strict";
(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const adding = document.getElementById("add-passkey");
  if (adding) adding.hidden = false;

  function decode(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (char) => char.charCodeAt(0));
  }

  function encode(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map((item) => ({ ...item, id: decode(item.id) }));
  }

  function credentialJson(credential) {
    const answer = credential.response;
    const response = { clientDataJSON: encode(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = encode(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = encode(answer.authenticatorData);
      response.signature = encode(answer.signature);
      if (answer.userHandle) response.userHandle = encode(answer.userHandle);
    }
    return JSON.stringify({
      id: credential.id,
      rawId: encode(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response,
    });
  }

  function send(form, credential) {
    if (form.dataset.request) {
      form.elements.request.value = form.dataset.request;
      form.elements.csrf_token.value = form.dataset.csrfToken;
    }
    form.elements.credential.value = credentialJson(credential);
    form.submit();
  }

  function showError(form, error) {
    const note = form.querySelector(".passkey-error");
    if (note && error && error.name !== "AbortError") {
      note.textContent = "No passkey was used; try again, or use another way to sign in";
      note.hidden = false;
    }
  }

  for (const form of document.querySelectorAll("form[data-passkey-request]")) {
    const options = JSON.parse(form.dataset.passkeyRequest);
    const publicKey = {
      ...options,
      challenge: decode(options.challenge),
      allowCredentials: withIds(options.allowCredentials),
    };
    let autofill;
    const button = form.querySelector("button");
    button.hidden = false;
    button.addEventListener("click", () => {
      if (autofill) autofill.abort();
      autofill = undefined;
      navigator.credentials.get({ publicKey })
        .then((credential) => credential && send(form, credential))
        .catch((error) => showError(form, error));
    });
    const canAutofill = form.dataset.autofill === "yes" &&
      PublicKeyCredential.isConditionalMediationAvailable;
    if (canAutofill) {
      PublicKeyCredential.isConditionalMediationAvailable().then((available) => {
        if (!available) return;
        autofill = new AbortController();
        navigator.credentials.get({ publicKey, mediation: "conditional", signal: autofill.signal })
          .then((credential) => credential && send(form, credential))
          .catch(() => {});
      });
    }
  }

  for (const form of document.querySelectorAll("form[data-passkey-create]")) {
    const options = JSON.parse(form.dataset.passkeyCreate);
    const publicKey = {
      ...options,
      challenge: decode(options.challenge),
      user: { ...options.user, id: decode(options.user.id) },
      excludeCredentials: withIds(options.excludeCredentials),
    };
    const button = form.querySelector("button");
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.credentials.create({ publicKey })
        .then((credential) => credential && send(form, credential))
        .catch((error) => showError(form, error));
    });
  }
})();
`;
