/**
 * @module
 * What a username and a new password must be. Checked where names enter the domain (login, the
 * CLI), so that no store ever sees a name it cannot hold (PostgreSQL refuses NUL in text).
 */

/** Longest username accepted. */
export const MAX_USERNAME_LENGTH = 64;
/** Shortest password accepted for new accounts (NIST SP 800-63B). */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest password accepted. */
export const MAX_PASSWORD_LENGTH = 1024;

/** Why a username cannot be used, or undefined when it can. */
export function usernameProblem(username: string): string | undefined {
  if (username.length === 0) return "Username must not be empty";
  if (!username.isWellFormed()) return "Username must be valid Unicode";
  if (username.length > MAX_USERNAME_LENGTH) {
    return `Username must be at most ${MAX_USERNAME_LENGTH} characters`;
  }
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(username)) {
    return "Username must not contain control characters";
  }
  if (username.trim() !== username) return "Username must not start or end with spaces";
  return undefined;
}

/** Why a new password cannot be used, or undefined when it can. */
export function passwordProblem(password: string): string | undefined {
  if (password.length === 0) return "Password must not be empty";
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return `Password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    return `Password must be at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  return undefined;
}
