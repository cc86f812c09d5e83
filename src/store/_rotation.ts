/**
 * @module
 * What presenting a refresh token for rotation does, decided once for both backends: a revoked
 * family answers "revoked", a used token "reused" (and its family must be revoked), an expired
 * token or family "expired", and otherwise the token rotates to the one `next` asks for, with
 * its expiry capped at the family's. Pure: a backend reads the state and writes what the step
 * says inside the one transaction that holds the family's lock.
 */
import type { UnixSeconds } from "../clock.ts";
import type {
  NewRefreshToken,
  RefreshFamilyRecord,
  RefreshTokenState,
  RotationResult,
} from "./tokens.ts";

/** What a backend writes for a rotation, and answers. */
export type RotationStep =
  /** Nothing to write: answer `result`. */
  | { write: "nothing"; result: RotationResult }
  /**
   * A replay: revoke the family (recording its `sid` revocation), then answer "reused" with
   * `family`, which already carries the revocation time.
   */
  | { write: "revocation"; family: RefreshFamilyRecord }
  /**
   * Mark the presented token used, insert `result.token`, store the family's new
   * `accessExpiresAt` and `clientConfidential`, and answer `result`.
   */
  | { write: "rotation"; result: Extract<RotationResult, { outcome: "rotated" }> };

/**
 * Decides the rotation of the token whose state is `current` (undefined when no token has that
 * hash) at `now`. `next` runs only when the token may rotate, and what it throws passes through.
 */
export function planRotation(
  current: RefreshTokenState | undefined,
  now: UnixSeconds,
  next: (current: RefreshTokenState) => NewRefreshToken,
): RotationStep {
  if (!current) return { write: "nothing", result: { outcome: "unknown" } };
  const { token, family } = current;
  if (family.revokedAt !== null) {
    return { write: "nothing", result: { outcome: "revoked", family } };
  }
  if (token.usedAt !== null) return { write: "revocation", family: { ...family, revokedAt: now } };
  if (token.expiresAt <= now || family.expiresAt <= now) {
    return { write: "nothing", result: { outcome: "expired", family } };
  }
  const wanted = next(current);
  const accessExpiresAt = Math.max(family.accessExpiresAt, wanted.accessExpiresAt);
  const clientConfidential = family.clientConfidential === true ||
    wanted.clientConfidential === true;
  return {
    write: "rotation",
    result: {
      outcome: "rotated",
      family: { ...family, accessExpiresAt, clientConfidential },
      token: {
        tokenHash: wanted.tokenHash,
        familyId: family.id,
        scope: wanted.scope,
        createdAt: now,
        expiresAt: Math.min(wanted.expiresAt, family.expiresAt),
        usedAt: null,
      },
    },
  };
}
