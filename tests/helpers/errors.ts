/**
 * The errors calls throw: getting hold of one to check it further, asserting its class on the
 * way, and the check of an {@linkcode HttpError}'s status that request-reading code needs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HttpError } from "../../src/http/errors.ts";

/** A class of errors, such as `ConfigError`. */
type ErrorClass<E> = abstract new (...args: never[]) => E;

/** Calls `fn` and returns what it throws, asserting that it throws an instance of `type`. */
export function thrownBy<E>(fn: () => unknown, type: ErrorClass<E>): E {
  let caught: unknown = undefined;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught}`);
  return caught;
}

/** Awaits `promise` and returns what it rejects with, asserting an instance of `type`. */
export async function rejectionOf<E>(promise: Promise<unknown>, type: ErrorClass<E>): Promise<E> {
  let caught: unknown = undefined;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught}`);
  return caught;
}

/** Asserts that `promise` rejects with an HttpError of `status` (and `message`, when given). */
export async function assertHttpError(
  promise: Promise<unknown>,
  status: number,
  message?: RegExp,
): Promise<HttpError> {
  const error = await rejectionOf(promise, HttpError);
  assert.equal(error.status, status);
  if (message) assert.match(error.message, message);
  return error;
}
