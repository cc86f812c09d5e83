/**
 * @module
 * Pages that only say something: an error of a sign-in or sign-out request that must not be
 * redirected, the sign-out confirmation and its result, and the answer to a browser that was not
 * signed in.
 */
import { type Html, html } from "../http/html.ts";
import { layout } from "./layout.ts";
import { stepFields, type StepForm } from "./step_form.ts";

/** A page with a title and one message, such as an error, and maybe a form (GET) to go on. */
export function messagePage(
  title: string,
  message: string,
  onward?: { action: string; fields: Record<string, string>; label: string },
): Html {
  return layout(
    title,
    html`
      <h1>${title}</h1>
      <p class="lead" role="alert">${message}</p>
      ${onward && html`
        <form method="get" action="${onward.action}">
          ${Object.entries(onward.fields).map(([name, value]) =>
            html`<input type="hidden" name="${name}" value="${value}">`
          )}
          <button type="submit">${onward.label}</button>
        </form>
      `}
    `,
  );
}

/**
 * The question asked before signing out a browser that came without a fresh ID token of its own
 * session.
 */
export function signOutPage(
  page: StepForm & { username: string },
): Html {
  const { username } = page;
  return layout(
    "Sign out",
    html`
      <h1>Sign out?</h1>
      <p class="lead">
        You are signed in as <strong>${username}</strong>. Signing out also signs you out of the
        applications you used with this account.
      </p>
      <form method="post" action="/sign-out">
        ${stepFields(page)}
        <button type="submit">Sign out</button>
      </form>
    `,
  );
}

/**
 * The answer to a sign-out request from a browser that is not signed in: nothing was ended here,
 * and the way back to the application is a link the person may follow, never a redirect.
 */
export function notSignedInPage(returnUrl: string | undefined): Html {
  const back = returnUrl === undefined
    ? undefined
    : html`<p><a href="${returnUrl}">Return to the application</a></p>`;
  return layout(
    "Not signed in",
    html`
      <h1>Not signed in</h1>
      <p class="lead">This browser is not signed in, so there is nothing to sign out of.</p>
      ${back}
    `,
  );
}
