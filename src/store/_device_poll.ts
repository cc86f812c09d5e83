/**
 * @module
 * What one poll of a device does (RFC 8628 §3.5), decided once for both backends. Pure: a backend
 * reads the authorization under a lock and writes what the poll says in the same transaction.
 */
import type { UnixSeconds } from "../clock.ts";
import {
  type DeviceAuthorizationRecord,
  type DevicePoller,
  type DevicePollOutcome,
  SLOW_DOWN_STEP_SECONDS,
} from "./device_authorizations.ts";

/**
 * Leeway on the interval for the jitter of the network and of whole seconds: a poll that comes
 * this much early still counts as on time.
 */
export const POLL_LEEWAY_SECONDS = 1;

/** The answer to a poll, and the authorization as it must be stored when the poll changed it. */
export interface DevicePoll {
  result: DevicePollOutcome;
  changed?: DeviceAuthorizationRecord;
}

/**
 * Decides the poll at `now` by `poller` of the authorization stored as `record` (undefined when
 * there is none). A poll by another client changes nothing. An answer already given (approved,
 * denied) is told at once whatever the interval; a pending one polled sooner than its interval is
 * `slow_down` and the interval grows; every poll is remembered as the last.
 */
export function planDevicePoll(
  record: DeviceAuthorizationRecord | undefined,
  poller: DevicePoller,
  now: UnixSeconds,
): DevicePoll {
  if (!record) return { result: { outcome: "unknown" } };
  if (record.clientId !== poller.clientId || record.createdAt < poller.registeredAt) {
    return { result: { outcome: "other_client" } };
  }
  const polled = { ...record, lastPolledAt: now };
  if (record.status === "used") return answer("used", polled);
  if (record.status === "expired") return answer("expired", polled);
  if (record.expiresAt <= now) return answer("expired_now", { ...polled, status: "expired" });
  if (record.status === "approved") return answer("approved", { ...polled, status: "used" });
  if (record.status === "denied") return answer("denied", polled);
  const early = record.lastPolledAt !== null &&
    now - record.lastPolledAt < record.intervalSeconds - POLL_LEEWAY_SECONDS;
  if (early) {
    const slower = { ...polled, intervalSeconds: record.intervalSeconds + SLOW_DOWN_STEP_SECONDS };
    return answer("slow_down", slower);
  }
  return answer("pending", polled);
}

function answer(
  outcome: Exclude<DevicePollOutcome["outcome"], "unknown">,
  record: DeviceAuthorizationRecord,
): DevicePoll {
  return { result: { outcome, record }, changed: record };
}
