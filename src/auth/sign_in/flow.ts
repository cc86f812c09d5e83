/**
 * @module
 * The browser sign-in flow (OpenID Connect Core §3.1.2): from an authorization request, through
 * the sign-in and consent pages, to the code sent back to the client. Each entry point does the
 * domain's part of one request (checking the pending form, the password, starting the browser
 * session, remembering consent, issuing the code) and returns the next step as a value
 * ({@linkcode FlowStep}) for the web layer to show; what comes next is decided by
 * {@linkcode decideNextStep}. It never reads a request and never builds a response.
 */
import { unixNow } from "../../clock.ts";
import type { LoginSource, PasswordLogin } from "../accounts/password_login.ts";
import type { PasskeyChallenge, Passkeys } from "../accounts/passkeys.ts";
import {
  type CodeSource,
  PASSWORD_AND_CODE_AMR,
  type SecondFactors,
} from "../accounts/second_factors.ts";
import type { ClientRegistry, RegisteredClient } from "../clients/registry.ts";
import { AuthFailure } from "../errors.ts";
import type { Origin } from "../events.ts";
import type { RequestParameters } from "../parameters.ts";
import type { ScopePolicy } from "../scopes.ts";
import { isSecretShaped, randomSecret } from "../secrets.ts";
import type { AuthorizationCodes } from "./authorization_codes.ts";
import {
  type AuthorizationRequest,
  readAuthorizationRequest,
  resolveClient,
} from "./authorization_requests.ts";
import type { BrowserSession, BrowserSessions } from "./browser_sessions.ts";
import type { Consents } from "./consents.ts";
import { ACCOUNT_PAGE } from "./account_sign_in.ts";
import { decideNextStep } from "./next_step.ts";
import type { PushedRequests } from "./pushed_requests.ts";
import type {
  PendingAction,
  PendingForm,
  PendingRequests,
  PostedForm,
} from "./pending_requests.ts";
import type { FlowStep } from "./flow_step.ts";
import { asStep, domainError, type StepNotes } from "./steps.ts";

/** What the sign-in flow works with. */
export interface SignInFlowDeps {
  clients: ClientRegistry;
  /** Scopes, with `openid` and `profile`. */
  policy: ScopePolicy;
  pending: PendingRequests;
  browserSessions: BrowserSessions;
  consents: Consents;
  codes: AuthorizationCodes;
  passwordLogin: PasswordLogin;
  secondFactors: SecondFactors;
  /** Every account must have a second factor: one without sets one up at sign-in. */
  mfaRequired?: boolean;
  /** Requests pushed before (RFC 9126), run when `/authorize` names one by its `request_uri`. */
  pushed?: PushedRequests;
  /** Every client must push its requests first (`REQUIRE_PAR`); plain ones are refused. */
  parRequired?: boolean;
  /** Passkeys, offered on the sign-in page and as a second factor. */
  passkeys?: Passkeys;
}

/**
 * The steps of a browser's sign-in: the authorization request, the sign-in form and the consent
 * form, each answered with the next step.
 *
 * @example
 * ```ts
 * const step = await flow.authorize(params, cookie);
 * if (step.kind === "code") redirectTo(step.target, { code: step.code });
 * ```
 */
export class SignInFlow {
  #deps: SignInFlowDeps;

  constructor(deps: SignInFlowDeps) {
    this.#deps = deps;
  }

  /**
   * An authorization request from the browser holding `cookie`, coming from the client address
   * (group) `from.address`. An unknown client or an unregistered redirect URI is an error page;
   * every other problem of the request goes back to the client. A signed-in browser gets its
   * code at once (single sign-on); a sign-in page counts against the address's unfinished
   * sign-ins. A pushed request named by its `request_uri` is used up here, whatever comes next,
   * and replaces every other parameter but `client_id` (RFC 9126 §4); a client that must push
   * its requests gets `invalid_request` for any other.
   */
  async authorize(
    params: RequestParameters,
    cookie: string | undefined,
    from: { address?: string; origin?: Origin } = {},
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    const { address } = from;
    return await asStep<FlowStep>(notes, async () => {
      const { effective, pushed } = this.#deps.pushed
        ? await this.#deps.pushed.unpack(params, this.#deps.clients, from.origin)
        : { effective: params, pushed: false };
      const resolved = await resolveClient(effective, this.#deps.clients);
      notes.client = resolved.client.clientId;
      let request: AuthorizationRequest;
      try {
        if ((resolved.client.requirePar || this.#deps.parRequired) && !pushed) {
          const message = this.#deps.parRequired
            ? "Every authorization request must be pushed to /oauth/par first (REQUIRE_PAR)"
            : `Client "${resolved.client.clientId}" must push its authorization requests first`;
          throw new AuthFailure("invalid_request", message);
        }
        request = readAuthorizationRequest(effective, resolved, this.#deps.policy);
      } catch (error) {
        return { kind: "redirect_error", target: resolved.target, error: domainError(error) };
      }
      const session = await this.#deps.browserSessions.current(cookie);
      notes.user = session?.username;
      return await this.#next(request, resolved.client, { session, cookie, address });
    });
  }

  /** The client a request is for: the registered one, or the account page itself. */
  async clientOf(request: AuthorizationRequest): Promise<RegisteredClient> {
    return request.account ? ACCOUNT_PAGE : await this.#deps.clients.require(request.clientId);
  }

  /**
   * Goes on with a request made here rather than by a client (a device's, from the device page,
   * or the account page's own sign-in) for the browser holding `cookie`: sign-in as for any
   * request, then its confirmation.
   */
  async resume(
    request: AuthorizationRequest,
    cookie: string | undefined,
    address?: string,
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const client = await this.clientOf(request);
      notes.client = client.clientId;
      const session = await this.#deps.browserSessions.current(cookie);
      notes.user = session?.username;
      return await this.#next(request, client, { session, cookie, address });
    });
  }

  /**
   * The sign-in form, posted back by the browser holding `cookie` with a username and password
   * that are checked as `/login` checks them (`source`: the throttle's address and the browser's
   * device token). Wrong credentials show the page again with the username kept; success starts
   * a browser session under a new cookie and goes on to consent or to the client.
   */
  async signIn(
    posted: PostedForm,
    cookie: string | undefined,
    input: { username: string; password: string; source: Omit<LoginSource, "clientId"> },
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { pending, browserSessions, passwordLogin } = this.#deps;
      const { request, passkeyChallenge } = await pending.open(posted, cookie, "sign_in");
      const client = await this.clientOf(request);
      notes.client = client.clientId;
      const { username, password, source } = input;
      let login;
      try {
        login = await passwordLogin.check(username, password, {
          ...source,
          clientId: client.clientId,
          secondFactorNext: true,
        });
      } catch (error) {
        const failure = domainError(error);
        if (failure.code !== "invalid_credentials" && failure.code !== "throttled") throw failure;
        // `open` checked the form: it is this step's, still pending.
        const form = posted as PendingForm;
        const view = { username, error: failure, form, passkeyChallenge };
        return await this.#signInPage(request, client, cookie, view);
      }
      await pending.finish(posted.id!);
      notes.user = login.username;
      const device = login.device;
      const enrolled = await this.#deps.secondFactors.required(login.username);
      if (enrolled || this.#twoFactorsRequired(request)) {
        const enrolment = enrolled
          ? undefined
          : await this.#deps.secondFactors.startEnrolment(login.username);
        const action = {
          kind: "second_factor" as const,
          request,
          username: login.username,
          subject: login.subject,
          ...(enrolment && { enrolling: true }),
        };
        // The browser holds the cookie the sign-in page was bound to (`open` checked it).
        const step = await this.secondFactorPage(action, client, cookie!);
        return { ...step, enrolment, device };
      }
      const signedIn = await browserSessions.signIn(login, cookie);
      const next = await this.#next(request, client, {
        session: signedIn.session,
        cookie: signedIn.cookie,
        justSignedIn: true,
      });
      return { ...next, sessionCookie: signedIn.cookie, device };
    });
  }

  /**
   * The second-factor form, posted back by the browser that entered the right password: a
   * right code (never one used before) starts the browser session, signed in with both; a wrong
   * one shows the page again, counted by the throttle.
   */
  async secondFactor(
    posted: PostedForm,
    cookie: string | undefined,
    input: { code: string; source: CodeSource },
  ): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { pending, browserSessions, secondFactors } = this.#deps;
      const action = await pending.open(posted, cookie, "second_factor");
      const { request, username, subject, enrolling } = action;
      const client = await this.clientOf(request);
      notes.client = client.clientId;
      notes.user = username;
      let recoveryCodes: string[] | undefined;
      try {
        if (enrolling) {
          recoveryCodes = await secondFactors.confirmEnrolment(username, input.code, input.source);
        } else {
          await secondFactors.verify(username, input.code, input.source);
        }
      } catch (error) {
        const failure = domainError(error);
        if (failure.code !== "invalid_code" && failure.code !== "throttled") throw failure;
        const enrolment = enrolling ? await secondFactors.pendingEnrolment(username) : undefined;
        if (enrolling && !enrolment) throw failure;
        const form = posted as PendingForm;
        const step = await this.secondFactorPage(action, client, cookie!, { form, error: failure });
        return { ...step, enrolment };
      }
      await pending.finish(posted.id!);
      const signedIn = await browserSessions.signIn(
        { username, subject },
        cookie,
        PASSWORD_AND_CODE_AMR,
      );
      if (recoveryCodes) {
        const next = { kind: "continue" as const, request, sid: signedIn.session.sid };
        const form = await pending.start(next, signedIn.cookie);
        return {
          kind: "recovery_codes",
          codes: recoveryCodes,
          form,
          sessionCookie: signedIn.cookie,
        };
      }
      const next = await this.#next(request, client, {
        session: signedIn.session,
        cookie: signedIn.cookie,
        justSignedIn: true,
      });
      return { ...next, sessionCookie: signedIn.cookie };
    });
  }

  /**
   * The form under the recovery codes of a second factor just set up at sign-in, posted back by
   * the session that set it up: on to consent or to the client.
   */
  async continueSignIn(posted: PostedForm, cookie: string | undefined): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { request, session, client } = await this.#openSessionForm(
        posted,
        cookie,
        "continue",
        notes,
      );
      return await this.#next(request, client, { session, cookie, justSignedIn: true });
    });
  }

  /**
   * The consent form, posted back by the browser (and session) it was shown to: `allow` is
   * remembered for the user and client and sends the code; anything else sends `access_denied`.
   */
  async consent(posted: PostedForm, cookie: string | undefined, allow: boolean): Promise<FlowStep> {
    const notes: StepNotes = {};
    return await asStep<FlowStep>(notes, async () => {
      const { consents, codes } = this.#deps;
      const { request, session } = await this.#openSessionForm(posted, cookie, "consent", notes);
      if (!allow) {
        const error = new AuthFailure("access_denied", "The user did not allow access");
        return { kind: "redirect_error", target: request, error };
      }
      await consents.grant(session.subject, request.clientId, request.scope);
      return { kind: "code", target: request, code: await codes.issue(request, session) };
    });
  }

  /**
   * Opens a posted form that only the browser session it was shown to may send back: the pending
   * request, that session and the request's client, the step spent.
   */
  async #openSessionForm(
    posted: PostedForm,
    cookie: string | undefined,
    kind: "continue" | "consent",
    notes: StepNotes,
  ): Promise<{ request: AuthorizationRequest; session: BrowserSession; client: RegisteredClient }> {
    const { pending, browserSessions } = this.#deps;
    const { request, sid } = await pending.open(posted, cookie, kind);
    const session = await browserSessions.current(cookie);
    if (session?.sid !== sid) {
      throw new AuthFailure(
        "expired_request",
        "Your sign-in has ended; go back to the application and sign in again",
      );
    }
    notes.user = session.username;
    const client = await this.clientOf(request);
    notes.client = client.clientId;
    await pending.finish(posted.id!);
    return { request, session, client };
  }

  /** Takes a validated request on to the step {@linkcode decideNextStep} names. */
  async #next(
    request: AuthorizationRequest,
    client: RegisteredClient,
    browser: {
      session?: BrowserSession;
      cookie?: string;
      justSignedIn?: boolean;
      address?: string;
    },
  ): Promise<FlowStep> {
    const { session, cookie, justSignedIn, address } = browser;
    const grantedScope = session && !client.firstParty
      ? await this.#deps.consents.granted(session.subject, client.clientId)
      : "";
    const next = decideNextStep({
      request,
      session,
      secondFactorMissing: session && !justSignedIn &&
        await this.#secondFactorMissing(session, request),
      justSignedIn,
      firstParty: client.firstParty,
      grantedScope,
      now: unixNow(),
    });
    if (request.account) {
      if (next.kind === "redirect_error") throw next.error;
      if (next.kind !== "sign_in") return { kind: "account", returnTo: request.redirectUri };
    }
    if (request.device && (next.kind === "consent" || next.kind === "issue_code")) {
      // A device is always confirmed by the person, first party or not (RFC 8628 §5.4).
      const action = { kind: "device_confirmation" as const, request, sid: next.session.sid };
      const form = await this.#deps.pending.start(action, cookie!);
      const { username } = next.session;
      const clientName = client.displayName;
      return { kind: "device_confirmation", clientName, request, username, form };
    }
    switch (next.kind) {
      case "sign_in":
        return await this.#signInPage(request, client, cookie, {
          username: request.loginHint,
          address,
        });
      case "consent": {
        const action = { kind: "consent" as const, request, sid: next.session.sid };
        const form = await this.#deps.pending.start(action, cookie!);
        const { username } = next.session;
        return { kind: "consent", clientName: client.displayName, request, username, form };
      }
      case "issue_code":
        return {
          kind: "code",
          target: request,
          code: await this.#deps.codes.issue(request, next.session),
        };
      case "redirect_error":
        return { kind: "redirect_error", target: request, error: next.error };
    }
  }

  /**
   * Whether a session was signed in without a second factor where one is needed: the user has
   * one, every account must (`MFA_REQUIRED`), or the request asks for two factors.
   */
  async #secondFactorMissing(
    session: BrowserSession,
    request: AuthorizationRequest,
  ): Promise<boolean> {
    if ((await this.#deps.browserSessions.methods(session.sid)).includes("mfa")) return false;
    return this.#twoFactorsRequired(request) ||
      await this.#deps.secondFactors.required(session.username);
  }

  /** Whether this request needs two factors whatever the account: by policy or by `acr_values`. */
  #twoFactorsRequired(request: AuthorizationRequest): boolean {
    return this.#deps.mfaRequired === true || request.twoFactors === true;
  }

  /**
   * The second-factor page of a user whose password was right (`action`): its pending step
   * bound to the browser's `binding`, with a new passkey challenge where the user has passkeys.
   * A page shown again after a wrong code keeps its step (`again.form`).
   */
  async secondFactorPage(
    action: Extract<PendingAction, { kind: "second_factor" }>,
    client: RegisteredClient,
    binding: string,
    again: { form?: PendingForm; error?: AuthFailure } = {},
  ): Promise<Extract<FlowStep, { kind: "second_factor" }>> {
    const { passkeys, secondFactors, pending } = this.#deps;
    const { username, subject, request } = action;
    let passkeyChallenge = again.form ? action.passkeyChallenge : undefined;
    if (!again.form && passkeys && (action.enrolling || await passkeys.has(username))) {
      passkeyChallenge = passkeys.newChallenge();
    }
    const form = again.form ?? await pending.start({ ...action, passkeyChallenge }, binding);
    // Setting up: the challenge makes a passkey; otherwise one of the user's answers it.
    const creating = action.enrolling ? passkeyChallenge : undefined;
    const answering = action.enrolling ? undefined : passkeyChallenge;
    return {
      kind: "second_factor",
      clientName: client.displayName,
      request,
      form,
      error: again.error,
      authenticatorApp: action.enrolling || await secondFactors.hasAuthenticatorApp(username),
      passkeyOptions: answering && await passkeys?.signInOptions(answering, subject),
      passkeyCreationOptions: creating &&
        await passkeys?.registrationOptions({ username, subject }, creating),
    };
  }

  /**
   * The sign-in page again, with a new pending step, after a failed passkey: `error` says why;
   * the step counts against `address`'s unfinished sign-ins as the first page did.
   */
  async signInAgain(
    request: AuthorizationRequest,
    cookie: string | undefined,
    again: { error: AuthFailure; address?: string },
  ): Promise<FlowStep> {
    const client = await this.clientOf(request);
    return await this.#signInPage(request, client, cookie, again);
  }

  /** Goes on to consent or to the client from a browser session just signed in (a passkey). */
  async proceed(
    request: AuthorizationRequest,
    signedIn: { cookie: string; session: BrowserSession },
  ): Promise<FlowStep> {
    const client = await this.clientOf(request);
    const next = await this.#next(request, client, { ...signedIn, justSignedIn: true });
    return { ...next, sessionCookie: signedIn.cookie };
  }

  /**
   * The sign-in page, its pending step bound to the browser's cookie; a browser without one gets
   * a new random cookie here (never a session: that is made only at sign-in, under yet another
   * value). A page shown again after a failed attempt keeps its pending step (`view.form`); a
   * new one counts against `view.address`'s unfinished sign-ins.
   */
  async #signInPage(
    request: AuthorizationRequest,
    client: RegisteredClient,
    cookie: string | undefined,
    view: {
      username?: string;
      error?: AuthFailure;
      form?: PendingForm;
      address?: string;
      passkeyChallenge?: PasskeyChallenge;
    },
  ): Promise<FlowStep> {
    const binding = isSecretShaped(cookie) ? cookie : randomSecret();
    const { passkeys } = this.#deps;
    const passkeyChallenge = view.form ? view.passkeyChallenge : passkeys?.newChallenge();
    const action = { kind: "sign_in" as const, request, passkeyChallenge };
    const form = view.form ?? await this.#deps.pending.start(action, binding, view.address);
    return {
      passkeyOptions: passkeyChallenge && await passkeys?.signInOptions(passkeyChallenge),
      kind: "sign_in",
      clientName: client.displayName,
      request,
      form,
      username: view.username,
      error: view.error,
      ...(binding !== cookie && { sessionCookie: binding }),
    };
  }
}
