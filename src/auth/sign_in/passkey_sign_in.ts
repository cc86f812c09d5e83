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
import type { PasskeyChallenge, Passkeys } from "../accounts/passkeys.ts";
import { AuthFailure } from "../errors.ts";
import type { BrowserSessions } from "./browser_sessions.ts";
import type { SignInFlow } from "./flow.ts";
import type { FlowStep } from "./flow_step.ts";
import type { PendingAction, PendingRequests, PostedForm } from "./pending_requests.ts";
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
  /** The client address (group) a sign-in page shown again counts against. */
  address?: string;
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
    const { passkeys, browserSessions, flow } = this.#deps;
    return await this.#spendChallenge(
      { kind: "sign_in", posted, cookie },
      async (action, notes) => {
        let signedIn;
        try {
          signedIn = await passkeys.signIn(answer.credential, action.passkeyChallenge, answer);
        } catch (error) {
          const again = { error: refusedPasskey(error), address: answer.address };
          return await flow.signInAgain(action.request, cookie, again);
        }
        notes.user = signedIn.username;
        const session = await browserSessions.signIn(signedIn, cookie, signedIn.amr);
        return await flow.proceed(action.request, session);
      },
    );
  }

  /** The second-factor page's passkey form, after a right password. */
  async secondFactor(
    posted: PostedForm,
    cookie: string | undefined,
    answer: PasskeyAnswer,
  ): Promise<FlowStep> {
    return await this.#afterPassword(posted, cookie, false, async (action) => {
      const { subject } = action;
      const signedIn = await this.#deps.passkeys.signIn(
        answer.credential,
        action.passkeyChallenge,
        { subject, origin: answer.origin },
      );
      return ["pwd", ...signedIn.amr];
    });
  }

  /**
   * The second-factor page's new passkey, where a second factor must be set up after a right
   * password (`MFA_REQUIRED`, or a request for two factors): the browser's new credential,
   * checked against the page's challenge and stored, signs in with both factors.
   */
  async enrol(
    posted: PostedForm,
    cookie: string | undefined,
    answer: PasskeyAnswer,
  ): Promise<FlowStep> {
    return await this.#afterPassword(posted, cookie, true, async (action) => {
      const { username, subject } = action;
      const added = await this.#deps.passkeys.register(
        { username, subject },
        answer.credential,
        action.passkeyChallenge,
        { name: "", origin: answer.origin },
      );
      // As after confirming an authenticator app: the new passkey, user-verified, was just used.
      return ["pwd", added.backupEligible ? "swk" : "hwk", "user", "mfa"];
    });
  }

  /**
   * The second-factor step's passkey forms: the step (setting a factor up, or not, as `enrolling`
   * says) and its challenge spent, then `use` checks the passkey and names the methods the
   * browser signs in with; a refused passkey shows the page again under a new challenge.
   */
  async #afterPassword(
    posted: PostedForm,
    cookie: string | undefined,
    enrolling: boolean,
    use: (action: WithChallenge<"second_factor">) => Promise<string[]>,
  ): Promise<FlowStep> {
    const { browserSessions, flow } = this.#deps;
    const step = { kind: "second_factor" as const, posted, cookie };
    return await this.#spendChallenge(step, async (action) => {
      const { request, username, subject } = action;
      if ((action.enrolling ?? false) !== enrolling) {
        const why = enrolling ? "No passkey is being added" : "Set up a second factor first";
        throw new AuthFailure("invalid_request", why);
      }
      let amr;
      try {
        amr = await use(action);
      } catch (error) {
        const refused = refusedPasskey(error);
        const client = await flow.clientOf(request);
        return await flow.secondFactorPage(action, client, cookie!, { error: refused });
      }
      const session = await browserSessions.signIn({ username, subject }, cookie, amr);
      return await flow.proceed(request, session);
    });
  }

  /**
   * Opens the pending `kind` step the form names and spends its passkey challenge before `work`
   * checks the answer, so that of two answers to one challenge at most one is checked. The
   * notes gathered go with the step `work` comes to, or with the error page.
   */
  async #spendChallenge<K extends PasskeyPage>(
    step: { kind: K; posted: PostedForm; cookie: string | undefined },
    work: (action: WithChallenge<K>, notes: StepNotes) => Promise<FlowStep>,
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { pending } = this.#deps;
      const action: Extract<PendingAction, { kind: PasskeyPage }> = await pending.open(
        step.posted,
        step.cookie,
        step.kind,
      );
      notes.client = action.request.clientId;
      if (action.kind === "second_factor") notes.user = action.username;
      if (!action.passkeyChallenge) throw noChallenge();
      await pending.finish(step.posted.id!);
      return await work(action as WithChallenge<K>, notes);
    });
  }
}

/** The pages whose forms a passkey may answer. */
type PasskeyPage = "sign_in" | "second_factor";

/** The pending step of such a page, with the passkey challenge it offered. */
type WithChallenge<K extends PasskeyPage> =
  & Extract<PendingAction, { kind: K }>
  & { passkeyChallenge: PasskeyChallenge };

/** The refusal of a passkey as the page shows it; any other error goes on up. */
function refusedPasskey(error: unknown): AuthFailure {
  const failure = domainError(error);
  if (failure.code !== "invalid_passkey") throw failure;
  return failure;
}

function noChallenge(): AuthFailure {
  return new AuthFailure("invalid_request", "This page offers no passkey sign-in");
}
