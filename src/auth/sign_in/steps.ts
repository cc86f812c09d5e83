/**
 * @module
 * What every step of the browser flows carries besides what to show (who it is about, the
 * cookies to set), the error page step, and the one rule that a domain error met on the way to
 * a step is shown as a page.
 */
import { AuthFailure } from "../errors.ts";

/** What any step may carry besides what to show. */
export interface StepNotes {
  /** The signed-in user, once known, for the access log. */
  user?: string;
  /** The client, once known, for the access log. */
  client?: string;
  /** A new value for the browser's session cookie: a fresh binding, or the session signed in. */
  sessionCookie?: string;
  /** A device token the sign-in issued, for the device cookie. */
  device?: { token: string; maxAgeSeconds: number };
}

/** An error to show as a page: nothing may be redirected, or nothing is left to do. */
export interface ErrorPageStep extends StepNotes {
  kind: "error_page";
  error: AuthFailure;
}

/**
 * Runs the work of one request to its step: a domain error on the way is an error page. The
 * notes gathered so far go with whatever step it comes to.
 */
export async function asStep<Step extends { kind: string }>(
  notes: StepNotes,
  work: () => Promise<Step>,
): Promise<(Step | ErrorPageStep) & StepNotes> {
  let step: Step | ErrorPageStep;
  try {
    step = await work();
  } catch (error) {
    step = { kind: "error_page", error: domainError(error) };
  }
  return { ...notes, ...step };
}

/** The error itself when it is a domain error; anything else goes on up. */
export function domainError(error: unknown): AuthFailure {
  if (error instanceof AuthFailure) return error;
  throw error;
}
