/**
 * @module
 * Signing in with a passkey in the browser flow: alone on the sign-in page (it is both factors:
 * something held and the user verified), or as the second factor after a password. The challenge
 * is the pending step's, bound to its authorization request and to the browser's cookie, and is
 * spent before the answer is checked, so of two answers to one challenge at most one signs in,
 * also on another instance. A refused passkey shows the page again under a new challenge. It
 * answers with the next step as a value; it never reads a request and never builds a response.
 */
import type { Origin } from "../events.ts";
import type { Passkeys } from "../accounts/passkeys.ts";
import { AuthFailure } from "../errors.ts";
import type { BrowserSessions } from "./browser_sessions.ts";
import type { SignInFlow } from "./flow.ts";
import type { FlowStep } from "./flow_step.ts";
import type { PendingRequests, PostedForm } from "./pending_requests.ts";
import { asStep, domainError, type StepNotes } from "./steps.ts";

/** What a passkey sign-in works with. */
export interface PasskeySignInDeps {
  flow: SignInFlow;
  passkeys: Passkeys;
  pending: PendingRequests;
  browserSessions: BrowserSessions;
}

/** What the browser posted: the credential's JSON, and where the request came from. */
export interface PasskeyAnswer {
  credential: string;
  origin?: Origin;
}

/**
 * Passkey sign-ins of the browser flow.
 *
 * @example
 * ```ts
 * const step = await passkeySignIn.signIn(posted, cookie, { credential });
 * ```
 */
export class PasskeySignIn {
  #deps: PasskeySignInDeps;

  constructor(deps: PasskeySignInDeps) {
    this.#deps = deps;
  }

  /** The sign-in page's passkey form: the passkey alone signs in. */
  async signIn(
    posted: PostedForm,
    cookie: string | undefined,
    answer: PasskeyAnswer,
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { pending, passkeys, browserSessions, flow } = this.#deps;
      const { request, passkeyChallenge } = await pending.open(posted, cookie, "sign_in");
      notes.client = request.clientId;
      if (!passkeyChallenge) throw noChallenge();
      await pending.finish(posted.id!);
      let signedIn;
      try {
        signedIn = await passkeys.signIn(answer.credential, passkeyChallenge, answer);
      } catch (error) {
        const failure = domainError(error);
        if (failure.code !== "invalid_passkey") throw failure;
        return await flow.signInAgain(request, cookie, failure);
      }
      notes.user = signedIn.username;
      const session = await browserSessions.signIn(signedIn, cookie, signedIn.amr);
      return await flow.proceed(request, session);
    });
  }

  /** The second-factor page's passkey form, after a right password. */
  async secondFactor(
    posted: PostedForm,
    cookie: string | undefined,
    answer: PasskeyAnswer,
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { pending, passkeys, browserSessions, flow } = this.#deps;
      const action = await pending.open(posted, cookie, "second_factor");
      const { request, username, subject, passkeyChallenge } = action;
      notes.client = request.clientId;
      notes.user = username;
      if (!passkeyChallenge) throw noChallenge();
      await pending.finish(posted.id!);
      let signedIn;
      try {
        signedIn = await passkeys.signIn(answer.credential, passkeyChallenge, {
          subject,
          origin: answer.origin,
        });
      } catch (error) {
        const failure = domainError(error);
        if (failure.code !== "invalid_passkey") throw failure;
        const client = await flow.clientOf(request);
        return await flow.secondFactorPage(action, client, cookie!, { error: failure });
      }
      const amr = ["pwd", ...signedIn.amr];
      const session = await browserSessions.signIn({ username, subject }, cookie, amr);
      return await flow.proceed(request, session);
    });
  }
}

function noChallenge(): AuthFailure {
  return new AuthFailure("invalid_request", "This page offers no passkey sign-in");
}
