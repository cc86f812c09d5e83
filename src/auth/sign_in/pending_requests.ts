/**
 * @module
 * A browser's pending step between a page and the form it posts back (sign-in, consent,
 * sign-out): kept in the store, bound to the browser's cookie and to a CSRF token of its own,
 * usable once and for a few minutes, with a cap on the unfinished sign-ins of one client address.
 * It speaks in domain errors only.
 */
import { unixNow } from "../../clock.ts";
import type { SignInStore } from "../../store/sign_in.ts";
import type { PasskeyChallenge } from "../accounts/passkeys.ts";
import type { AuthorizationRequest } from "./authorization_requests.ts";
import { AuthFailure, tooManyWaiting } from "../errors.ts";
import { digestsEqual, isSecretShaped, randomSecret, sha256Hex } from "../secrets.ts";

/** How long a page's form stays usable. */
export const PENDING_REQUEST_TTL_SECONDS = 10 * 60;
/**
 * The most unfinished sign-in pages one client address (group) may have at a time: each one
 * shown to a browser without a session is stored until it is used or expires.
 */
export const MAX_PENDING_SIGN_INS_PER_ADDRESS = 50;

/** What to do once the form of a page comes back. */
export type PendingAction =
  /** The sign-in page: a password, or a passkey answering `passkeyChallenge`. */
  | { kind: "sign_in"; request: AuthorizationRequest; passkeyChallenge?: PasskeyChallenge }
  | { kind: "consent"; request: AuthorizationRequest; sid: string }
  /** A form of the account page of the browser session `sid`. */
  | {
    kind: "account";
    sid: string;
    /** A passkey being registered: the challenge it must answer, and its name. */
    registering?: { challenge: PasskeyChallenge; name: string };
  }
  /**
   * The password was right; the second factor of `username` is asked for, or first set up
   * (`enrolling`) where one is required and there is none.
   */
  | {
    kind: "second_factor";
    request: AuthorizationRequest;
    username: string;
    /** The account that entered its password: a later account of the same name is another. */
    subject: string;
    enrolling?: boolean;
    /** The challenge a passkey of the user may answer instead of a code. */
    passkeyChallenge?: PasskeyChallenge;
  }
  /** Signed in (session `sid`) after setting up a second factor; on to the client. */
  | { kind: "continue"; request: AuthorizationRequest; sid: string }
  /** The device page's form, where a person enters the user code shown on a device. */
  | { kind: "device_code" }
  /** Signed in (session `sid`); the person approves or denies the device request. */
  | { kind: "device_confirmation"; request: AuthorizationRequest; sid: string }
  | {
    kind: "sign_out";
    sid: string;
    /** Who is signing out, for the audit trail. */
    username: string;
    postLogoutRedirectUri?: string;
    state?: string;
  };

/** A pending step as a page's form names it. */
export interface PendingForm {
  /** Identifies the pending step. */
  id: string;
  /** Proves the form came from our page. */
  csrfToken: string;
}

/** A posted form, as far as it names a pending step. */
export type PostedForm = Partial<PendingForm>;

/**
 * Pending steps of browsers.
 *
 * @example
 * ```ts
 * const form = await pending.start({ kind: "sign_in", request }, cookie);
 * const action = await pending.open(form, cookie, "sign_in"); // when the form comes back
 * await pending.finish(form.id);                               // once, when it succeeds
 * ```
 */
export class PendingRequests {
  #store: SignInStore;

  constructor(store: SignInStore) {
    this.#store = store;
  }

  /**
   * Stores a step for the browser holding `binding` (its cookie) and returns its form fields. A
   * page anyone may open (sign-in, the device page's code form) shown to `address` counts
   * against that address's {@linkcode MAX_PENDING_SIGN_INS_PER_ADDRESS}: beyond it,
   * `too_many_sign_ins`.
   */
  async start(action: PendingAction, binding: string, address?: string): Promise<PendingForm> {
    const now = unixNow();
    const form = { id: randomSecret(), csrfToken: randomSecret() };
    const counted = (action.kind === "sign_in" || action.kind === "device_code") &&
      address !== undefined;
    const admission = await this.#store.addPendingRequest({
      id: form.id,
      bindingHash: await sha256Hex(binding),
      csrfHash: await sha256Hex(form.csrfToken),
      action: JSON.stringify(action),
      address: counted ? address : null,
      createdAt: now,
      expiresAt: now + PENDING_REQUEST_TTL_SECONDS,
    }, counted ? MAX_PENDING_SIGN_INS_PER_ADDRESS : undefined);
    if (!admission.added) {
      throw tooManyWaiting(
        "Too many sign-ins from your network are waiting to be finished; finish one, or try again later",
        admission.freeAt,
        now,
      );
    }
    return form;
  }

  /**
   * The action of a form posted back for a step of `kind`: `csrf_mismatch` unless the CSRF
   * token is that step's, the browser the one it was shown to and the step of that kind;
   * `expired_request` when the step is gone or over.
   */
  async open<K extends PendingAction["kind"]>(
    form: PostedForm,
    binding: string | undefined,
    kind: K,
  ): Promise<Extract<PendingAction, { kind: K }>> {
    const action = await this.#check(form, binding);
    if (action.kind !== kind) {
      // "a sign-in", "a consent", "a sign-out"
      throw csrfMismatch(`This form does not belong to a ${kind.replace("_", "-")}`);
    }
    return action as Extract<PendingAction, { kind: K }>;
  }

  async #check(form: PostedForm, binding: string | undefined): Promise<PendingAction> {
    if (!isSecretShaped(form.csrfToken)) throw csrfMismatch("The form has no valid CSRF token");
    if (!isSecretShaped(form.id)) throw csrfMismatch("The form names no pending request");
    if (!isSecretShaped(binding)) throw csrfMismatch("The browser has no session cookie");
    const record = await this.#store.getPendingRequest(form.id, unixNow());
    if (!record) throw expired();
    const [csrfHash, bindingHash] = await Promise.all([
      sha256Hex(form.csrfToken),
      sha256Hex(binding),
    ]);
    if (!digestsEqual(csrfHash, record.csrfHash)) {
      throw csrfMismatch("The CSRF token belongs to another request");
    }
    if (!digestsEqual(bindingHash, record.bindingHash)) {
      throw csrfMismatch("The form was shown to another browser");
    }
    return JSON.parse(record.action);
  }

  /** Ends a step; `expired_request` when it was already ended (by a concurrent submission). */
  async finish(id: string): Promise<void> {
    if (!await this.#store.takePendingRequest(id, unixNow())) throw expired();
  }
}

function csrfMismatch(message: string): AuthFailure {
  return new AuthFailure("csrf_mismatch", message);
}

function expired(): AuthFailure {
  return new AuthFailure(
    "expired_request",
    "This page has expired or was already used; go back to the application and try again",
  );
}
