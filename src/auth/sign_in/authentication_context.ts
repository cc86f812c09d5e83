/**
 * @module
 * How strongly a user was signed in, as ID tokens say it: the RFC 8176 methods (`amr`) of the
 * browser session and the class (`acr`) they reach, after the authenticator assurance levels of
 * NIST SP 800-63B: a password alone is level 1, a password and a code level 2. It reads no store.
 */

/** The `acr` of a sign-in with one factor. */
const ACR_ONE_FACTOR = "urn:auth-api:aal1";
/** The `acr` of a sign-in with two factors. */
const ACR_TWO_FACTORS = "urn:auth-api:aal2";
/** The classes discovery lists (`acr_values_supported`), weakest first. */
export const ACR_VALUES_SUPPORTED: readonly string[] = [ACR_ONE_FACTOR, ACR_TWO_FACTORS];

/** The class a sign-in with the methods `amr` reaches. */
export function acrOf(amr: readonly string[]): string {
  return amr.includes("mfa") ? ACR_TWO_FACTORS : ACR_ONE_FACTOR;
}

/**
 * Whether an `acr_values` parameter (space-separated, in order of preference) asks for two
 * factors: only when every class it names is the two-factor one, since the first that can be met
 * would otherwise do.
 */
export function asksTwoFactors(acrValues: string | undefined): boolean {
  const values = (acrValues ?? "").split(" ").filter((value) => value !== "");
  return values.length > 0 && values.every((value) => value === ACR_TWO_FACTORS);
}
