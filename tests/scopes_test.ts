/**
 * @module
 * The one scope decision of every grant, as a table: what each request gets (or `invalid_scope`)
 * for a client that is not registered, one registered with a narrower scope, a refresh narrowing
 * an earlier grant, and a client acting for itself, which never gets a user's scopes.
 */
import assert from "node:assert/strict";
import { AuthFailure } from "../src/auth/errors.ts";
import { grantScope, type ScopeLimits, type ScopePolicy } from "../src/auth/scopes.ts";

const POLICY: ScopePolicy = {
  supported: ["hello", "other", "openid", "profile"],
  defaultScope: "hello",
};

/** What `grantScope` answers: the scope, or the error code. */
function decide(requested: string | undefined, limits?: ScopeLimits): string {
  try {
    return grantScope(requested, POLICY, limits);
  } catch (error) {
    if (error instanceof AuthFailure) return `error: ${error.code}`;
    throw error;
  }
}

Deno.test("grantScope answers every kind of grant from one decision", () => {
  const cases: [string, string | undefined, ScopeLimits | undefined, string][] = [
    ["unregistered, nothing asked: the default", undefined, undefined, "hello"],
    ["unregistered, blank: the default", "  ", undefined, "hello"],
    ["unregistered, supported scopes as asked", "openid hello", undefined, "openid hello"],
    ["unregistered, repeats once", "hello hello", undefined, "hello"],
    ["unregistered, unknown scope", "hello admin", undefined, "error: invalid_scope"],
    ["unregistered, malformed token", 'hello "x"', undefined, "error: invalid_scope"],
    ["registered hello, nothing asked", undefined, { registered: "hello" }, "hello"],
    ["registered hello, openid asked", "openid", { registered: "hello" }, "error: invalid_scope"],
    ["registered openid profile, nothing asked: no default is left", undefined, {
      registered: "openid profile",
    }, "error: invalid_scope"],
    ["registered openid profile, profile asked", "profile", {
      registered: "openid profile",
    }, "profile"],
    ["registered with a scope no longer supported", "gone", {
      registered: "hello gone",
    }, "error: invalid_scope"],
    ["refresh, nothing asked: all of the earlier grant, in its order", undefined, {
      earlier: "other hello",
    }, "other hello"],
    ["refresh, narrower", "hello", { earlier: "other hello" }, "hello"],
    ["refresh, wider", "openid", { earlier: "hello" }, "error: invalid_scope"],
    ["refresh, earlier scope no longer supported", undefined, {
      earlier: "gone",
    }, "error: invalid_scope"],
    ["refresh of a registered client keeps within both", "other", {
      earlier: "hello other",
      registered: "hello",
    }, "error: invalid_scope"],
    ["client for itself, nothing asked", undefined, {
      registered: "hello openid",
      excluded: ["openid", "profile"],
    }, "hello"],
    ["client for itself, a user's scope asked", "openid", {
      registered: "hello openid",
      excluded: ["openid", "profile"],
    }, "error: invalid_scope"],
  ];
  const problems = cases
    .map(([what, requested, limits, expected]) => [what, decide(requested, limits), expected])
    .filter(([, got, expected]) => got !== expected)
    .map(([what, got, expected]) => `${what}: got "${got}", expected "${expected}"`);
  assert.deepEqual(problems, []);
});
