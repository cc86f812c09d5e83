/**
 * @module
 * The next step of a browser's sign-in as a value: which page to show (sign-in, second factor,
 * recovery codes, consent, a device's confirmation) or where to send the browser (a code or an
 * error for the client, or back to the account page). The flow returns it; the web layer shows it.
 */
import type { PasskeyCreationOptions, PasskeyRequestOptions } from "../accounts/passkeys.ts";
import type { PendingEnrolment } from "../accounts/second_factors.ts";
import type { AuthFailure } from "../errors.ts";
import type { AuthorizationRequest, RedirectTarget } from "./authorization_requests.ts";
import type { PendingForm } from "./pending_requests.ts";
import type { ErrorPageStep, StepNotes } from "./steps.ts";

/** The next step of an authorization, as the browser is to see it. */
export type FlowStep =
  | ErrorPageStep
  | StepNotes & {
    /** Show the sign-in page; `error` says why the last attempt failed. */
    kind: "sign_in";
    clientName: string;
    request: AuthorizationRequest;
    form: PendingForm;
    username?: string;
    error?: AuthFailure;
    /** What `navigator.credentials.get` needs for signing in with a passkey instead. */
    passkeyOptions?: PasskeyRequestOptions;
  }
  | StepNotes & {
    /** Show the page that asks for the second factor; `error` says why the last code failed. */
    kind: "second_factor";
    clientName: string;
    request: AuthorizationRequest;
    form: PendingForm;
    /** A second factor to set up first: its secret and `otpauth://` URI. */
    enrolment?: PendingEnrolment;
    error?: AuthFailure;
    /** Whether a code from an authenticator app is asked for (else only a passkey). */
    authenticatorApp?: boolean;
    /** What `navigator.credentials.get` needs, where a passkey of the user may answer. */
    passkeyOptions?: PasskeyRequestOptions;
    /** What `navigator.credentials.create` needs, where a passkey may be set up instead. */
    passkeyCreationOptions?: PasskeyCreationOptions;
  }
  | StepNotes & {
    /** Show the recovery codes of a second factor just set up, once, then go on. */
    kind: "recovery_codes";
    codes: string[];
    form: PendingForm;
  }
  | StepNotes & {
    /** Show the consent page. */
    kind: "consent";
    clientName: string;
    request: AuthorizationRequest;
    username: string;
    form: PendingForm;
  }
  | StepNotes & {
    /** Show the page where the person approves or denies a device (RFC 8628 §5.4). */
    kind: "device_confirmation";
    clientName: string;
    request: AuthorizationRequest;
    username: string;
    form: PendingForm;
  }
  | StepNotes & {
    /** Signed in to the account page: back to it (`returnTo`, this service's own page). */
    kind: "account";
    returnTo: string;
  }
  | StepNotes & {
    /** Send the code to the client. */
    kind: "code";
    target: RedirectTarget;
    code: string;
  }
  | StepNotes & {
    /** Send an error to the client (RFC 6749 §4.1.2.1). */
    kind: "redirect_error";
    target: RedirectTarget;
    error: AuthFailure;
  };
