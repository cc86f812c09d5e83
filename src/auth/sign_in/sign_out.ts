/**
 * @module
 * Signing a browser out (OpenID Connect RP-Initiated Logout 1.0): the end-session request, and
 * the answer to the question asked when no fresh ID token of the browser's own session vouches
 * for it. Each returns the next step
 * as a value ({@linkcode SignOutStep}) for the web layer to show; it never reads a request and
 * never builds a response.
 */
import type { ClientRegistry } from "../clients/registry.ts";
import { AuthFailure } from "../errors.ts";
import type { Origin } from "../events.ts";
import { type RequestParameters, singleParameter } from "../parameters.ts";
import { isSecretShaped } from "../secrets.ts";
import type { BrowserSessions } from "./browser_sessions.ts";
import type { IdTokens } from "./id_tokens.ts";
import type { PendingForm, PendingRequests, PostedForm } from "./pending_requests.ts";
import { asStep, type ErrorPageStep, type StepNotes } from "./steps.ts";

/** Where to send the browser after signing out, with the client's `state`. */
export interface SignedOutTarget {
  postLogoutRedirectUri?: string;
  state?: string;
}

/** The next step of a sign-out, as the browser is to see it. */
export type SignOutStep =
  | ErrorPageStep
  | StepNotes & {
    /** Ask the signed-in user whether to sign out; the form goes to `POST /sign-out`. */
    kind: "confirm";
    username: string;
    form: PendingForm;
    postLogoutRedirectUri?: string;
  }
  | StepNotes & {
    /** Signed out: say so, or send the browser to the client's `target`. */
    kind: "signed_out";
    target: SignedOutTarget;
    /** Whether the browser's session cookie is to be deleted. */
    clearCookie: boolean;
  }
  | StepNotes & {
    /**
     * The browser has no session: nothing was ended. Say so, offering (never making) the way
     * back to the client's `target`.
     */
    kind: "not_signed_in";
    target: SignedOutTarget;
    /** Whether the browser's stale session cookie is to be deleted. */
    clearCookie: boolean;
  };

/** What signing out works with. */
export interface SignOutDeps {
  idTokens: IdTokens;
  clients: ClientRegistry;
  browserSessions: BrowserSessions;
  pending: PendingRequests;
}

/**
 * Signs browsers out, with their refresh families.
 *
 * @example
 * ```ts
 * const step = await signOut.endSession(params, cookie, origin);
 * ```
 */
export class SignOut {
  #deps: SignOutDeps;

  constructor(deps: SignOutDeps) {
    this.#deps = deps;
  }

  /**
   * An end-session request from the browser holding `cookie` (RP-Initiated Logout §2). Only a
   * hint that is fresh (not expired beyond the leeway) and names this browser's own session ends
   * it at once, with its refresh families. Any other signed-in browser is asked first: an ID
   * token is no secret of the session it names, so a hint for another session, or a stale one,
   * decides nothing. A browser without a session is told so and ends nothing. A
   * `post_logout_redirect_uri` must be registered for the client (named by the hint or by
   * `client_id`), else it is an error page and nothing is redirected.
   */
  async endSession(
    params: RequestParameters,
    cookie: string | undefined,
    origin?: Origin,
  ): Promise<SignOutStep> {
    const notes: StepNotes = {};
    return await asStep<SignOutStep>(notes, async () => {
      const { idTokens, clients, browserSessions, pending } = this.#deps;
      const param = (name: string) => singleParameter(params, name);
      const hintToken = param("id_token_hint");
      const hint = hintToken === undefined ? undefined : await idTokens.verifyHint(hintToken);
      const clientParam = param("client_id");
      if (hint && clientParam !== undefined && clientParam !== hint.clientId) {
        throw new AuthFailure(
          "invalid_id_token_hint",
          "The id_token_hint was issued to another client",
        );
      }
      const clientId = hint?.clientId ?? clientParam;
      const client = clientId === undefined ? undefined : await clients.require(clientId);
      notes.client = client?.clientId;
      const postLogoutRedirectUri = param("post_logout_redirect_uri");
      if (
        postLogoutRedirectUri !== undefined &&
        !client?.postLogoutRedirectUris.includes(postLogoutRedirectUri)
      ) {
        throw new AuthFailure(
          "unregistered_redirect_uri",
          "The post_logout_redirect_uri is not registered for this client",
        );
      }
      const state = param("state");
      const target = { postLogoutRedirectUri, ...(state !== undefined && { state }) };
      const current = await browserSessions.current(cookie);
      notes.user = current?.username;
      if (!current) return { kind: "not_signed_in", target, clearCookie: isSecretShaped(cookie) };
      if (hint?.fresh && hint.sid === current.sid) {
        await browserSessions.end(current.sid, {
          subject: current.username,
          client: hint.clientId,
          origin,
        });
        return { kind: "signed_out", target, clearCookie: true };
      }
      const form = await pending.start(
        { kind: "sign_out", sid: current.sid, username: current.username, ...target },
        cookie!,
      );
      return { kind: "confirm", username: current.username, form, postLogoutRedirectUri };
    });
  }

  /** The answer to the sign-out question: ends the browser's session and its refresh families. */
  async signOut(
    posted: PostedForm,
    cookie: string | undefined,
    origin?: Origin,
  ): Promise<SignOutStep> {
    const notes: StepNotes = {};
    return await asStep<SignOutStep>(notes, async () => {
      const action = await this.#deps.pending.open(posted, cookie, "sign_out");
      await this.#deps.pending.finish(posted.id!);
      notes.user = action.username;
      await this.#deps.browserSessions.end(action.sid, { subject: action.username, origin });
      const { postLogoutRedirectUri, state } = action;
      return { kind: "signed_out", target: { postLogoutRedirectUri, state }, clearCookie: true };
    });
  }
}
