/**
 * @module
 * What ending a user's sessions records and counts, decided once for both backends: a refresh
 * family revoked while its access tokens may still be accepted gets a `sid` revocation until
 * then, and a session counts as live when a refresh or access token of its family was still
 * usable, or its browser was still signed in. Pure: the backends revoke and delete.
 */
import type { UnixSeconds } from "../clock.ts";
import type { BrowserSessionRecord } from "./sign_in.ts";
import type { RefreshFamilyRecord } from "./tokens.ts";

/** Whether a family revoked at `now` needs a `sid` revocation for its access tokens. */
export function needsSidRevocation(family: RefreshFamilyRecord, now: UnixSeconds): boolean {
  return family.accessExpiresAt > now;
}

/** How many of the families revoked and browser sessions deleted at `now` were live. */
export function liveSessions(
  ended: { families: readonly RefreshFamilyRecord[]; browsers: readonly BrowserSessionRecord[] },
  now: UnixSeconds,
): number {
  const families = ended.families.filter((family) =>
    family.accessExpiresAt > now || family.expiresAt > now
  );
  const browsers = ended.browsers.filter((session) =>
    session.idleExpiresAt > now && session.expiresAt > now
  );
  return families.length + browsers.length;
}
