/**
 * @module
 * The consent page: which application asks for what, as a list of the scopes in words, with
 * allow and deny buttons posting the pending request's id and CSRF token back.
 */
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { scopeDecision } from "./scopes.ts";
import type { StepForm } from "./step_form.ts";

/** What the consent page shows. */
export interface ConsentPage extends StepForm {
  clientName: string;
  username: string;
  /** The scopes asked for, each shown with what it means. */
  scopes: readonly string[];
}

/** The consent page. */
export function consentPage(page: ConsentPage): Html {
  const { clientName, username } = page;
  return layout(
    "Allow access",
    html`
      <h1>Allow access?</h1>
      <p class="lead">
        <strong>${clientName}</strong> asks to act on your behalf, signed in as
        <strong>${username}</strong>. It will be able to:
      </p>
      ${scopeDecision({ ...page, action: "/consent", grant: { value: "allow", label: "Allow" } })}
      <footer>You will not be asked again for these permissions.</footer>
    `,
  );
}
