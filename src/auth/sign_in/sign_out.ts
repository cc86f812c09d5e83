/**
 * @module
 * Signing a browser out (OpenID Connect RP-Initiated Logout 1.0): the end-session request, and
 * the answer to the question asked when no ID token vouches for it. Each returns the next step
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
  };

/** What signing out works with. */
export interface SignOutFlowDeps {
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
export class SignOutFlow {
  #deps: SignOutFlowDeps;

  constructor(deps: SignOutFlowDeps) {
    this.#deps = deps;
  }

  /**
   * An end-session request from the browser holding `cookie`. With a valid `id_token_hint` the
   * session it names ends at once, with its refresh families; without one, a signed-in browser
   * is asked first. A `post_logout_redirect_uri` must be registered for the client (named by the
   * hint or by `client_id`), else it is an error page and nothing is redirected.
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
      if (hint) {
        if (hint.sid !== undefined) {
          // The audit trail names users; the hint knows only the account's opaque subject.
          const subject = current?.sid === hint.sid ? current.username : hint.sub;
          await browserSessions.end(hint.sid, { subject, client: hint.clientId, origin });
        }
        return { kind: "signed_out", target, clearCookie: !current || current.sid === hint.sid };
      }
      if (!current) return { kind: "signed_out", target, clearCookie: isSecretShaped(cookie) };
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
