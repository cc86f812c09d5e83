/**
 * @module
 * The device page's domain (RFC 8628 §3.3): a person enters the user code a device shows, signs
 * in through the browser flow (second factor included), and approves or denies the device. The
 * code is looked up only within the address's throttle; a code given in the link is filled in but
 * never taken without the person submitting it (§5.4, against remote phishing). Every form is a
 * pending step bound to the browser's cookie (CSRF), used once. It answers with the next step as
 * a value; it never reads a request and never builds a response.
 */
import { unixNow } from "../../clock.ts";
import type { ClientRegistry } from "../clients/registry.ts";
import { AuthFailure } from "../errors.ts";
import type { Origin } from "../events.ts";
import { isSecretShaped, randomSecret } from "../secrets.ts";
import type { BrowserSessions } from "./browser_sessions.ts";
import type { DeviceAuthorizations } from "./device_authorizations.ts";
import type { SignInFlow } from "./flow.ts";
import type { FlowStep } from "./flow_step.ts";
import type { PendingForm, PendingRequests, PostedForm } from "./pending_requests.ts";
import { asStep, domainError, type StepNotes } from "./steps.ts";
import { formatUserCode, normalizeUserCode, USER_CODE_LENGTH } from "./user_codes.ts";
import type { UserCodeThrottle } from "./user_code_throttle.ts";

/** Longest user code kept from a link or a form, whatever was typed. */
const MAX_TYPED_LENGTH = 32;

/** The next step of the device page: its own views, or a step of the sign-in flow. */
export type DeviceStep =
  | FlowStep
  | StepNotes & {
    /** Show the form for the user code; `error` says why the last one was refused. */
    kind: "enter_code";
    form: PendingForm;
    /** What to fill in: the code of the link, or what was typed. */
    userCode?: string;
    error?: AuthFailure;
  }
  | StepNotes & {
    /** The person answered; the device learns it at its next poll. */
    kind: "device_answered";
    approved: boolean;
    clientName: string;
  };

/** What the device page works with. */
export interface DeviceVerificationDeps {
  flow: SignInFlow;
  devices: DeviceAuthorizations;
  throttle: UserCodeThrottle;
  pending: PendingRequests;
  browserSessions: BrowserSessions;
  clients: ClientRegistry;
  /** The device page's own URL (`verification_uri`), where a device's sign-in comes back to. */
  verificationUri: string;
}

/**
 * The steps of the device page.
 *
 * @example
 * ```ts
 * const step = await verification.enter(cookie, url.searchParams.get("user_code"));
 * ```
 */
export class DeviceVerification {
  #deps: DeviceVerificationDeps;

  constructor(deps: DeviceVerificationDeps) {
    this.#deps = deps;
  }

  /**
   * The code form for the browser holding `cookie`, with `typed` filled in (from the link); a
   * browser without a cookie gets a new random one to bind the form to. The form counts against
   * `address`'s unfinished sign-ins.
   */
  async enter(
    cookie: string | undefined,
    typed?: string | null,
    address?: string,
  ): Promise<DeviceStep> {
    const notes: StepNotes = {};
    return await asStep<DeviceStep>(notes, async () => {
      const binding = isSecretShaped(cookie) ? cookie : randomSecret();
      const form = await this.#deps.pending.start({ kind: "device_code" }, binding, address);
      const userCode = typed ? shown(typed) : undefined;
      return {
        kind: "enter_code",
        form,
        userCode,
        ...(binding !== cookie && { sessionCookie: binding }),
      };
    });
  }

  /**
   * The code form posted back: a code that matches a pending device goes on to sign-in (or, for
   * a signed-in browser, straight to the confirmation); a wrong one shows the form again, counted
   * by the throttle of `source.address`.
   */
  async submit(
    posted: PostedForm,
    cookie: string | undefined,
    input: { userCode: string; source: { address: string; origin?: Origin } },
  ): Promise<DeviceStep> {
    const notes: StepNotes = {};
    return await asStep<DeviceStep>(notes, async () => {
      const { pending, throttle, devices } = this.#deps;
      const { address, origin } = input.source;
      await pending.open(posted, cookie, "device_code");
      // `open` checked the form: it is this step's, still pending.
      const form = posted as PendingForm;
      const again = (error: AuthFailure): DeviceStep => ({
        kind: "enter_code",
        form,
        userCode: shown(input.userCode),
        error,
      });
      const userCode = normalizeUserCode(input.userCode.slice(0, MAX_TYPED_LENGTH));
      if (userCode === undefined) {
        return again(
          new AuthFailure(
            "invalid_code",
            `Enter the ${USER_CODE_LENGTH}-letter code your device shows, such as BCDF-GHJK`,
          ),
        );
      }
      const now = unixNow();
      try {
        await throttle.admit(address, now);
      } catch (error) {
        this.#refused("throttled", origin);
        return again(domainError(error));
      }
      const record = await devices.pending(userCode);
      if (!record) {
        this.#refused("unknown", origin);
        return again(
          new AuthFailure(
            "invalid_code",
            "That code is not valid or has expired; check the code your device shows",
          ),
        );
      }
      await throttle.giveBack(address, now);
      await pending.finish(posted.id!);
      notes.client = record.clientId;
      return await this.#deps.flow.resume(
        {
          clientId: record.clientId,
          redirectUri: this.#deps.verificationUri,
          scope: record.scope,
          codeChallenge: "",
          prompt: [],
          device: { codeHash: record.deviceCodeHash, userCode },
        },
        cookie,
        address,
      );
    });
  }

  /**
   * The confirmation posted back by the browser session it was shown to: the person's answer is
   * recorded for the device's next poll.
   */
  async confirm(
    posted: PostedForm,
    cookie: string | undefined,
    answer: { approved: boolean; origin?: Origin },
  ): Promise<DeviceStep> {
    const notes: StepNotes = {};
    return await asStep<DeviceStep>(notes, async () => {
      const { pending, browserSessions, clients, devices } = this.#deps;
      const { request, sid } = await pending.open(posted, cookie, "device_confirmation");
      const session = await browserSessions.current(cookie);
      if (session?.sid !== sid || !request.device) {
        throw new AuthFailure(
          "expired_request",
          "Your sign-in has ended; enter the code your device shows again",
        );
      }
      notes.user = session.username;
      await pending.finish(posted.id!);
      const client = await clients.require(request.clientId);
      notes.client = client.clientId;
      await devices.decide(request.device.codeHash, session, {
        approved: answer.approved,
        clientId: client.clientId,
        origin: answer.origin,
      });
      return { kind: "device_answered", approved: answer.approved, clientName: client.displayName };
    });
  }

  #refused(reason: "unknown" | "throttled", origin?: Origin): void {
    this.#deps.devices.userCodeRefused(reason, origin);
  }
}

/** A typed code as the form shows it again: grouped when it is one, else as typed (cut short). */
function shown(typed: string): string {
  const code = normalizeUserCode(typed.slice(0, MAX_TYPED_LENGTH));
  return code === undefined ? typed.slice(0, MAX_TYPED_LENGTH) : formatUserCode(code);
}
