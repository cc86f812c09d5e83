/**
 * @module
 * The account page's domain: what a signed-in person sees of their own account and the changes
 * they make there (setting up an authenticator app, new recovery codes). Every form is a pending
 * step bound to the browser session's cookie and `sid` (CSRF), used once. Once a second factor
 * is set up, only a session signed in with it may change anything. It answers with the next
 * view as a value; it never reads a request and never builds a response.
 */
import {
  type CodeSource,
  PASSWORD_AND_CODE_AMR,
  type SecondFactors,
  type SecondFactorStatus,
} from "../accounts/second_factors.ts";
import type { PasswordChange } from "../accounts/password_change.ts";
import type {
  PasskeyChallenge,
  PasskeyCreationOptions,
  Passkeys,
  PasskeySummary,
} from "../accounts/passkeys.ts";
import { unixNow } from "../../clock.ts";
import { AuthFailure } from "../errors.ts";
import type { Origin } from "../events.ts";
import type { AccountActivity, AccountSessions } from "./account_sessions.ts";
import type { BrowserSession, BrowserSessions } from "./browser_sessions.ts";
import type { PendingForm, PendingRequests, PostedForm } from "./pending_requests.ts";
import { asStep, domainError, type ErrorPageStep, type StepNotes } from "./steps.ts";

/** What the account page shows next. */
export type AccountView =
  | ErrorPageStep
  | StepNotes & {
    /** The overview, with the forms for the next changes. */
    kind: "overview";
    username: string;
    secondFactor: SecondFactorStatus;
    passkeys: PasskeySummary[];
    activity: AccountActivity;
    form: PendingForm;
    /** What the last change did, or why it failed. */
    notice?: string;
    error?: AuthFailure;
  }
  | StepNotes & {
    /** This browser is signed out (it ended its own session, or all of them). */
    kind: "signed_out";
    everywhere: boolean;
  }
  | StepNotes & {
    /** The secret of an authenticator app being set up, waiting for its first code. */
    kind: "totp_enrolment";
    username: string;
    secret: string;
    uri: string;
    form: PendingForm;
    error?: AuthFailure;
  }
  | StepNotes & {
    /** A passkey being made: what `navigator.credentials.create` needs, and its form. */
    kind: "passkey_registration";
    username: string;
    name: string;
    options: PasskeyCreationOptions;
    form: PendingForm;
  }
  | StepNotes & {
    /** New recovery codes, shown this once. */
    kind: "recovery_codes";
    username: string;
    codes: string[];
    form: PendingForm;
  };

/** What the account page works with. */
export interface AccountSettingsDeps {
  browserSessions: BrowserSessions;
  pending: PendingRequests;
  secondFactors: SecondFactors;
  sessions: AccountSessions;
  passwordChange: PasswordChange;
  passkeys: Passkeys;
}

/**
 * How recent a sign-in must be for setting up a second factor or making new recovery codes
 * (a password change asks for the current password instead).
 */
const RECENT_SIGN_IN_SECONDS = 10 * 60;

/**
 * The account page's views and changes.
 *
 * @example
 * ```ts
 * const view = await account.overview(cookie); // { kind: "overview", … } for a signed-in browser
 * ```
 */
export class AccountSettings {
  #deps: AccountSettingsDeps;

  constructor(deps: AccountSettingsDeps) {
    this.#deps = deps;
  }

  /** The overview for the browser holding `cookie`; an error page unless it is signed in. */
  async overview(cookie: string | undefined): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#session(cookie, notes);
      return await this.#overview(session, cookie!);
    });
  }

  /** Starts setting up an authenticator app: its secret and QR code, and the confirm form. */
  async startTotp(posted: PostedForm, cookie: string | undefined): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes, { recent: true });
      const enrolment = await this.#deps.secondFactors.startEnrolment(session.username);
      const form = await this.#form(session, cookie!);
      return { kind: "totp_enrolment", username: session.username, ...enrolment, form };
    });
  }

  /**
   * Confirms the app with its first code: the factor counts from now on, this session is
   * signed in with it, and the first recovery codes are shown. A wrong code shows the secret
   * again (counted by the throttle).
   */
  async confirmTotp(
    posted: PostedForm,
    cookie: string | undefined,
    input: { code: string; source: CodeSource },
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes);
      const { secondFactors, browserSessions } = this.#deps;
      let codes;
      try {
        codes = await secondFactors.confirmEnrolment(session.username, input.code, input.source);
      } catch (error) {
        const failure = domainError(error);
        const enrolment = await secondFactors.pendingEnrolment(session.username);
        if (failure.code !== "invalid_code" && failure.code !== "throttled") throw failure;
        if (!enrolment) throw failure;
        const form = await this.#form(session, cookie!);
        const { username } = session;
        return { kind: "totp_enrolment", username, ...enrolment, form, error: failure };
      }
      await browserSessions.recordMethods(session.sid, PASSWORD_AND_CODE_AMR);
      const form = await this.#form(session, cookie!);
      return { kind: "recovery_codes", username: session.username, codes, form };
    });
  }

  /** Replaces the recovery codes by a new set, shown this once. */
  async regenerateRecoveryCodes(
    posted: PostedForm,
    cookie: string | undefined,
    source: CodeSource,
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes, { recent: true });
      const { secondFactors } = this.#deps;
      if (!await secondFactors.hasAuthenticatorApp(session.username)) {
        throw new AuthFailure("invalid_request", "Set up an authenticator app first");
      }
      const codes = await secondFactors.regenerateRecoveryCodes(session.username, source);
      const form = await this.#form(session, cookie!);
      return { kind: "recovery_codes", username: session.username, codes, form };
    });
  }

  /**
   * Ends one of the person's own sessions: a browser (`sid`), every session of one app
   * (`clientId`), a remembered device (`deviceId`), or all of them (`everywhere`, this
   * browser's included).
   */
  async signOut(
    posted: PostedForm,
    cookie: string | undefined,
    what: {
      sid?: string;
      clientId?: string;
      deviceId?: string;
      everywhere?: boolean;
      origin?: Origin;
    },
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes);
      const { sessions } = this.#deps;
      if (what.everywhere) {
        await sessions.signOutEverywhere(session, what.origin);
        return { kind: "signed_out", everywhere: true };
      }
      if (what.sid !== undefined) {
        await sessions.endBrowser(session, what.sid, what.origin);
        if (what.sid === session.sid) return { kind: "signed_out", everywhere: false };
      } else if (what.clientId !== undefined) {
        await sessions.signOutApp(session, what.clientId, what.origin);
      } else if (what.deviceId !== undefined) {
        await sessions.forgetDevice(session, what.deviceId, what.origin);
      } else {
        throw new AuthFailure("invalid_request", "Say which session to end");
      }
      return await this.#overview(session, cookie!);
    });
  }

  /**
   * Changes the password: the current one is checked (and throttled) as at sign-in; every
   * session of the user ends, and this browser is signed in again under a new cookie, as it was.
   */
  async changePassword(
    posted: PostedForm,
    cookie: string | undefined,
    input: { current: string; next: string; source: CodeSource },
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes);
      const { passwordChange, browserSessions } = this.#deps;
      const amr = await browserSessions.methods(session.sid);
      try {
        await passwordChange.change(session.username, input, input.source);
      } catch (error) {
        const failure = domainError(error);
        const known = ["invalid_credentials", "throttled", "invalid_request"];
        if (!known.includes(failure.code)) throw failure;
        return { ...await this.#overview(session, cookie!), error: failure };
      }
      const signedIn = await browserSessions.signIn(session, cookie, amr);
      const view = await this.#overview(signedIn.session, signedIn.cookie);
      return {
        ...view,
        notice: "Your password is changed; every other session of yours has ended",
        sessionCookie: signedIn.cookie,
      };
    });
  }

  /**
   * Starts registering a passkey named `name`: the options for the browser (discoverable, user
   * verification required, none of the user's own again) under a new challenge, kept with the
   * registration's own form.
   */
  async startPasskey(
    posted: PostedForm,
    cookie: string | undefined,
    name: string,
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes, { recent: true });
      const { passkeys, pending } = this.#deps;
      const challenge = passkeys.newChallenge();
      const options = await passkeys.registrationOptions(session, challenge);
      const registering = { challenge, name };
      const form = await pending.start({ kind: "account", sid: session.sid, registering }, cookie!);
      return { kind: "passkey_registration", username: session.username, name, options, form };
    });
  }

  /**
   * Finishes a registration with the browser's new credential: checked against the challenge
   * (used once with its form) and stored; the overview says so, or why it was refused.
   */
  async finishPasskey(
    posted: PostedForm,
    cookie: string | undefined,
    input: { credential: string; origin?: Origin },
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const { registering, ...session } = await this.#change(posted, cookie, notes, {
        recent: true,
      });
      if (!registering) throw new AuthFailure("invalid_request", "No passkey is being added");
      let added;
      try {
        added = await this.#deps.passkeys.register(
          session,
          input.credential,
          registering.challenge,
          {
            name: registering.name,
            origin: input.origin,
          },
        );
      } catch (error) {
        const failure = domainError(error);
        if (failure.code !== "invalid_passkey" && failure.code !== "invalid_request") throw failure;
        return { ...await this.#overview(session, cookie!), error: failure };
      }
      // As after confirming an authenticator app: the new passkey, user-verified, was just used.
      const { browserSessions } = this.#deps;
      const amr = await browserSessions.methods(session.sid);
      if (!amr.includes("mfa")) {
        const kind = added.backupEligible ? "swk" : "hwk";
        await browserSessions.recordMethods(session.sid, [...amr, kind, "user", "mfa"]);
      }
      return { ...await this.#overview(session, cookie!), notice: "Your passkey is added" };
    });
  }

  /** Renames one of the person's passkeys. */
  async renamePasskey(
    posted: PostedForm,
    cookie: string | undefined,
    input: { id: string; name: string; origin?: Origin },
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes);
      await this.#deps.passkeys.rename(session, input.id, input.name, input.origin);
      return { ...await this.#overview(session, cookie!), notice: "Your passkey is renamed" };
    });
  }

  /** Removes one of the person's passkeys; from then on it signs nobody in. */
  async removePasskey(
    posted: PostedForm,
    cookie: string | undefined,
    input: { id: string; origin?: Origin },
  ): Promise<AccountView> {
    const notes: StepNotes = {};
    return await asStep<AccountView>(notes, async () => {
      const session = await this.#change(posted, cookie, notes, { recent: true });
      await this.#deps.passkeys.remove(session, input.id, input.origin);
      return { ...await this.#overview(session, cookie!), notice: "Your passkey is removed" };
    });
  }

  async #overview(session: BrowserSession, cookie: string) {
    const secondFactor = await this.#deps.secondFactors.status(session.username);
    const passkeys = await this.#deps.passkeys.list(session.subject);
    const activity = await this.#deps.sessions.activity(session);
    const form = await this.#form(session, cookie);
    const { username } = session;
    return { kind: "overview" as const, username, secondFactor, passkeys, activity, form };
  }

  /** The signed-in session of `cookie`, or `login_required`. */
  async #session(cookie: string | undefined, notes: StepNotes): Promise<BrowserSession> {
    const session = await this.#deps.browserSessions.current(cookie);
    if (!session) {
      throw new AuthFailure(
        "login_required",
        "You are not signed in",
      );
    }
    notes.user = session.username;
    return session;
  }

  /**
   * The session a change is made in: the form must be this session's page (CSRF, used once),
   * and a session without the user's second factor may change nothing.
   */
  async #change(
    posted: PostedForm,
    cookie: string | undefined,
    notes: StepNotes,
    options: { recent?: boolean } = {},
  ): Promise<BrowserSession & { registering?: { challenge: PasskeyChallenge; name: string } }> {
    const { pending, browserSessions, secondFactors } = this.#deps;
    const { sid, registering } = await pending.open(posted, cookie, "account");
    const session = await this.#session(cookie, notes);
    if (session.sid !== sid) {
      throw new AuthFailure("csrf_mismatch", "The form was shown to another session");
    }
    await pending.finish(posted.id!);
    if (
      await secondFactors.required(session.username) &&
      !(await browserSessions.methods(session.sid)).includes("mfa")
    ) {
      throw new AuthFailure(
        "login_required",
        "Sign in again with your second factor to change your account",
      );
    }
    if (options.recent && unixNow() - session.authTime > RECENT_SIGN_IN_SECONDS) {
      throw new AuthFailure(
        "login_required",
        "Your last sign-in is too long ago for this change: sign in again to make it",
      );
    }
    return { ...session, registering };
  }

  async #form(session: BrowserSession, cookie: string): Promise<PendingForm> {
    return await this.#deps.pending.start({ kind: "account", sid: session.sid }, cookie);
  }
}
