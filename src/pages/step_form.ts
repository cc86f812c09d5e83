/**
 * @module
 * What ties a page's form to its pending step: the step's id and CSRF token, carried as the
 * hidden fields `request` and `csrf_token` that the handlers read back. Every form of a pending
 * step puts them in through here; it knows nothing of what the form asks.
 */
import { type Html, html } from "../http/html.ts";

/** The pending step a page's forms post back to. */
export interface StepForm {
  requestId: string;
  csrfToken: string;
}

/** The hidden `request` and `csrf_token` fields of a form of the pending step `form`. */
export function stepFields(form: StepForm): Html {
  return html`
    <input type="hidden" name="request" value="${form.requestId}">
    <input type="hidden" name="csrf_token" value="${form.csrfToken}">
  `;
}
