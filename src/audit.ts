/**
 * @module
 * Where security events go: one `"msg": "audit"` JSON line each, apart from the access log and
 * written whatever `LOG_LEVEL` says, and the matching security counters when metrics are on.
 * Field names are the log's (snake_case); a password or a token is never among them.
 */
import type { SecurityEvent, SecurityEvents } from "./auth/events.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

/**
 * The service's security-event sink.
 *
 * @example
 * ```ts
 * const events = createAuditTrail(logger, metrics);
 * events.record({ event: "logout", subject: "alice" }, { requestId, address });
 * ```
 */
export function createAuditTrail(logger: Logger, metrics?: Metrics): SecurityEvents {
  return {
    record(event, origin) {
      logger.audit({
        event: event.event,
        subject: event.subject,
        client: event.client,
        caller: event.caller,
        session: event.sid,
        reason: event.reason,
        kid: event.kid,
        sessions_ended: event.sessionsEnded,
        devices_forgotten: event.devicesForgotten,
        request_id: origin?.requestId,
        client_address: origin?.address,
      });
      if (metrics) count(metrics, event);
    },
  };
}

function count(metrics: Metrics, { event, reason }: SecurityEvent): void {
  switch (event) {
    case "login_succeeded":
      return metrics.logins.add(1, { outcome: "success" });
    case "login_failed":
      return metrics.logins.add(1, { outcome: "invalid" });
    case "login_throttled":
      return metrics.logins.add(1, { outcome: "throttled" });
    case "throttle_entered":
      return metrics.throttleEntries.add(1, { reason: reason ?? "unknown" });
    case "token_refreshed":
      return metrics.refreshes.add(1, { outcome: "rotated" });
    case "refresh_reuse_detected":
      return metrics.refreshes.add(1, { outcome: "reuse_detected" });
    case "refresh_refused":
      return metrics.refreshes.add(1, { outcome: reason ?? "refused" });
    case "password_changed":
    case "app_signed_out":
    case "signed_out_everywhere":
    case "device_forgotten":
    case "passkey_registered":
    case "passkey_renamed":
    case "passkey_removed":
      return metrics.accountChanges.add(1, { change: event });
    case "second_factor_enrolled":
    case "second_factor_succeeded":
    case "second_factor_failed":
    case "recovery_code_used":
    case "recovery_codes_generated":
    case "passkey_succeeded":
    case "passkey_refused":
      return metrics.secondFactor.add(1, { event: event.replace("second_factor_", "") });
    case "pushed_request_issued":
    case "pushed_request_refused":
    case "pushed_request_used":
    case "pushed_request_expired":
      return metrics.pushedRequests.add(1, { outcome: event.replace("pushed_request_", "") });
    case "device_code_issued":
    case "device_code_refused":
    case "device_code_approved":
    case "device_code_denied":
    case "device_code_expired":
      return metrics.deviceCodes.add(1, { event: event.replace("device_code_", "") });
    case "user_code_refused":
      return metrics.userCodesRefused.add(1, { reason: reason ?? "unknown" });
    case "dpop_proof_refused":
    case "dpop_proof_replayed":
      return metrics.dpopRefusals.add(1, { reason: reason ?? "invalid" });
  }
}
