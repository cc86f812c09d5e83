/**
 * @module
 * The device page (RFC 8628 §3.3): `GET /device` (the code form, filled in from
 * `verification_uri_complete`), `POST /device` (the code, then sign-in as for any application)
 * and `POST /device/confirm` (approve or deny). It reads the request, calls the device
 * verification and shows the step it returns; errors go to the edge as pages.
 */
import type { DeviceStep, DeviceVerification } from "../auth/sign_in/device_verification.ts";
import type { Handler, RequestContext } from "../http/context.ts";
import { sessionCookie } from "../http/cookies.ts";
import { htmlResponse } from "../http/html.ts";
import { deviceAnsweredPage, enterCodePage } from "../pages/device.ts";
import { originOf, sourceOf } from "./_authenticate.ts";
import {
  browserCookie,
  type BrowserPageDeps,
  noteStep,
  readPostedPage,
  showStep,
} from "./_browser_pages.ts";

/** The handlers of the device page. */
export interface DeviceHandlers {
  enter: Handler;
  submit: Handler;
  confirm: Handler;
}

/** The device page's handlers on `verification`. */
export function createDeviceHandlers(
  verification: DeviceVerification,
  deps: BrowserPageDeps,
): DeviceHandlers {
  return {
    async enter(req, ctx) {
      const typed = new URL(req.url).searchParams.get("user_code");
      const step = await verification.enter(browserCookie(req), typed, ctx.addressGroup);
      return showDeviceStep(step, ctx, deps);
    },
    async submit(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const step = await verification.submit(posted, cookie, {
        userCode: form.get("user_code") ?? "",
        source: sourceOf(ctx),
      });
      return showDeviceStep(step, ctx, deps);
    },
    async confirm(req, ctx) {
      const { form, posted, cookie } = await readPostedPage(req, deps.bodyLimits);
      const step = await verification.confirm(posted, cookie, {
        approved: form.get("decision") === "approve",
        origin: originOf(ctx),
      });
      return showDeviceStep(step, ctx, deps);
    },
  };
}

function showDeviceStep(step: DeviceStep, ctx: RequestContext, deps: BrowserPageDeps): Response {
  switch (step.kind) {
    case "enter_code": {
      noteStep(step, ctx);
      const answer = step.error && deps.wording.page(step.error);
      const res = htmlResponse(
        enterCodePage({
          requestId: step.form.id,
          csrfToken: step.form.csrfToken,
          userCode: step.userCode,
          // The refusal's own words: the sign-in throttle's page wording speaks of passwords.
          error: step.error?.message,
        }),
        { status: answer?.status, headers: answer?.headers },
      );
      if (step.sessionCookie) res.headers.append("set-cookie", sessionCookie(step.sessionCookie));
      return res;
    }
    case "device_answered":
      noteStep(step, ctx);
      return htmlResponse(deviceAnsweredPage(step));
    default:
      return showStep(step, ctx, deps);
  }
}
