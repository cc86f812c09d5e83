/**
 * @module
 * The decision at the heart of the sign-in flow: given a validated authorization request, the
 * browser's session and what the user allowed the client before, what comes next (OpenID
 * Connect Core §3.1.2.3 and §3.1.2.4): the sign-in page, the consent page, the code, or an error
 * for the client when `prompt=none` forbids a page. It is a pure function of its facts: it reads
 * no store and no clock.
 */
import type { UnixSeconds } from "../../clock.ts";
import { AuthFailure } from "../errors.ts";
import { scopeTokens } from "../scopes.ts";
import type { AuthorizationRequest } from "./authorization_requests.ts";
import type { BrowserSession } from "./browser_sessions.ts";

/** What is known when the next step is decided. */
export interface NextStepFacts {
  request: Pick<AuthorizationRequest, "prompt" | "maxAge" | "scope">;
  /** The browser's live session, if it has one. */
  session?: BrowserSession;
  /**
   * Whether the session's user has a second factor the session was not signed in with (a
   * session from before enrolment): then the session does not count.
   */
  secondFactorMissing?: boolean;
  /** Whether the password was entered for this very request just now. */
  justSignedIn?: boolean;
  /** First-party clients never ask for consent. */
  firstParty: boolean;
  /** The scope the session's user allowed the client before; empty for nothing. */
  grantedScope: string;
  now: UnixSeconds;
}

/** What comes next for an authorization request. */
export type NextStep =
  | { kind: "sign_in" }
  | { kind: "consent"; session: BrowserSession }
  | { kind: "issue_code"; session: BrowserSession }
  /** `login_required` or `consent_required`, for the client (`prompt=none`). */
  | { kind: "redirect_error"; error: AuthFailure };

/**
 * Decides the next step: the sign-in page unless the session will do (none, one without the
 * user's second factor, older than
 * `max_age`, or `prompt=login`, and the password was not just entered), then the consent page
 * when a third-party client asks for more than the user allowed (or `prompt=consent`), else the
 * code. With `prompt=none` a page that would be needed is an error for the client instead.
 *
 * @example
 * ```ts
 * decideNextStep({ request, session, firstParty: true, grantedScope: "", now: unixNow() });
 * // { kind: "issue_code", session }
 * ```
 */
export function decideNextStep(facts: NextStepFacts): NextStep {
  const { request, justSignedIn = false, now } = facts;
  const session = facts.secondFactorMissing ? undefined : facts.session;
  const silent = request.prompt.includes("none");
  // Whole seconds: max_age=0 always asks again, as it must.
  const stale = session !== undefined && request.maxAge !== undefined &&
    now - session.authTime >= request.maxAge;
  if (!session || (!justSignedIn && (stale || request.prompt.includes("login")))) {
    if (silent) {
      return {
        kind: "redirect_error",
        error: new AuthFailure("login_required", "The user is not signed in"),
      };
    }
    return { kind: "sign_in" };
  }
  if (consentNeeded(facts)) {
    if (silent) {
      return {
        kind: "redirect_error",
        error: new AuthFailure("consent_required", "The user has not allowed this client"),
      };
    }
    return { kind: "consent", session };
  }
  return { kind: "issue_code", session };
}

/**
 * Whether the user must be asked: never for first-party clients; for others when the request
 * says so (`prompt=consent`) or asks for a scope the user has not allowed before.
 */
function consentNeeded({ request, firstParty, grantedScope }: NextStepFacts): boolean {
  if (firstParty) return false;
  if (request.prompt.includes("consent")) return true;
  const granted = scopeTokens(grantedScope);
  return scopeTokens(request.scope).some((token) => !granted.includes(token));
}
