/**
 * @module
 * Scopes as people read them and answer them: what each one the service knows lets an
 * application do, and the part of the consent and device pages that lists those asked for above
 * the buttons that grant or refuse them. It never decides which scopes a client gets.
 */
import { type Html, html } from "../http/html.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** Words for the scopes the service knows; others are shown by name. */
const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: "Confirm who you are (sign you in)",
  profile: "See your username",
  hello: "Call the greeting API as you",
};

/** What a scope means, in words. */
function describeScope(scope: string): string {
  return SCOPE_DESCRIPTIONS[scope] ?? `Use the "${scope}" permission`;
}

/**
 * The scopes asked for, each in words and by name, then the form that posts the person's
 * `decision` to `action`: `grant` (the button's value and label) or `deny`.
 */
export function scopeDecision(
  page: StepForm & {
    scopes: readonly string[];
    action: string;
    grant: { value: string; label: string };
  },
): Html {
  const scopes = page.scopes.map((name) =>
    html`<li>${describeScope(name)} <span class="scope-name">(${name})</span></li>`
  );
  return html`
    <ul class="scopes">${scopes}</ul>
    <form method="post" action="${page.action}">
            ${stepFields(page)}
            <button type="submit" name="decision" value="${page.grant.value}">${page.grant
              .label}</button>
            <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
          </form>
  `;
}
