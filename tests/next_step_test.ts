/**
 * @module
 * The sign-in flow's decision, as a table: for each browser session, request (`prompt`,
 * `max_age`, scope) and earlier consent, what comes next. The pages and redirects that show the
 * decision are tested over HTTPS in authorize_test.ts, sign_in_test.ts and oidc_test.ts.
 */
import assert from "node:assert/strict";
import type { Prompt } from "../src/auth/sign_in/authorization_requests.ts";
import type { BrowserSession } from "../src/auth/sign_in/browser_sessions.ts";
import { decideNextStep, type NextStepFacts } from "../src/auth/sign_in/next_step.ts";

const NOW = 1_800_000_000;
/** Signed in ten minutes ago. */
const SESSION: BrowserSession = {
  sid: "sid-1",
  username: "alice",
  subject: "subject-alice",
  authTime: NOW - 600,
};

interface Case {
  what: string;
  prompt?: Prompt[];
  maxAge?: number;
  scope?: string;
  session?: BrowserSession;
  justSignedIn?: boolean;
  firstParty?: boolean;
  grantedScope?: string;
  /** The step's kind, or the error code sent back to the client. */
  expected: "sign_in" | "consent" | "issue_code" | "login_required" | "consent_required";
}

const CASES: Case[] = [
  { what: "no session", expected: "sign_in" },
  { what: "no session, prompt=none", prompt: ["none"], expected: "login_required" },
  { what: "a session, first-party client", session: SESSION, expected: "issue_code" },
  { what: "a session, prompt=login", session: SESSION, prompt: ["login"], expected: "sign_in" },
  {
    what: "prompt=login, password just entered",
    session: SESSION,
    prompt: ["login"],
    justSignedIn: true,
    expected: "issue_code",
  },
  { what: "session older than max_age", session: SESSION, maxAge: 300, expected: "sign_in" },
  { what: "session exactly max_age old", session: SESSION, maxAge: 600, expected: "sign_in" },
  { what: "session within max_age", session: SESSION, maxAge: 601, expected: "issue_code" },
  {
    what: "max_age=0, signed in this very second",
    session: { ...SESSION, authTime: NOW },
    maxAge: 0,
    expected: "sign_in",
  },
  {
    what: "max_age=0, password just entered",
    session: { ...SESSION, authTime: NOW },
    maxAge: 0,
    justSignedIn: true,
    expected: "issue_code",
  },
  {
    what: "stale session, prompt=none",
    session: SESSION,
    maxAge: 60,
    prompt: ["none"],
    expected: "login_required",
  },
  {
    what: "third-party client, nothing allowed before",
    session: SESSION,
    firstParty: false,
    expected: "consent",
  },
  {
    what: "third-party client, all of it allowed before",
    session: SESSION,
    firstParty: false,
    grantedScope: "profile hello openid",
    expected: "issue_code",
  },
  {
    what: "third-party client, part of it allowed before",
    session: SESSION,
    firstParty: false,
    grantedScope: "openid",
    expected: "consent",
  },
  {
    what: "third-party client, all allowed, prompt=consent",
    session: SESSION,
    firstParty: false,
    grantedScope: "openid profile",
    prompt: ["consent"],
    expected: "consent",
  },
  {
    what: "first-party client, prompt=consent",
    session: SESSION,
    prompt: ["consent"],
    expected: "issue_code",
  },
  {
    what: "third-party client, nothing allowed, prompt=none",
    session: SESSION,
    firstParty: false,
    prompt: ["none"],
    expected: "consent_required",
  },
  {
    what: "third-party client, all allowed, prompt=none",
    session: SESSION,
    firstParty: false,
    grantedScope: "openid profile",
    prompt: ["none"],
    expected: "issue_code",
  },
  {
    what: "prompt=login consent, password just entered",
    session: SESSION,
    firstParty: false,
    grantedScope: "openid profile",
    prompt: ["login", "consent"],
    justSignedIn: true,
    expected: "consent",
  },
];

function factsOf(test: Case): NextStepFacts {
  return {
    request: {
      prompt: test.prompt ?? [],
      ...(test.maxAge !== undefined && { maxAge: test.maxAge }),
      scope: test.scope ?? "openid profile",
    },
    session: test.session,
    justSignedIn: test.justSignedIn,
    firstParty: test.firstParty ?? true,
    grantedScope: test.grantedScope ?? "",
    now: NOW,
  };
}

Deno.test("decideNextStep: sign-in, consent, the code, or an error for the client", () => {
  for (const test of CASES) {
    const step = decideNextStep(factsOf(test));
    const outcome = step.kind === "redirect_error" ? step.error.code : step.kind;
    assert.equal(outcome, test.expected, test.what);
    if (step.kind === "consent" || step.kind === "issue_code") {
      assert.equal(step.session, test.session, `${test.what}: the session goes on`);
    }
  }
});

Deno.test("decideNextStep words the errors prompt=none sends back to the client", () => {
  const login = decideNextStep(factsOf({ what: "", prompt: ["none"], expected: "sign_in" }));
  assert.equal(login.kind, "redirect_error");
  assert.equal(login.kind === "redirect_error" && login.error.message, "The user is not signed in");
  const consent = decideNextStep(
    factsOf({
      what: "",
      session: SESSION,
      firstParty: false,
      prompt: ["none"],
      expected: "consent",
    }),
  );
  assert.equal(
    consent.kind === "redirect_error" && consent.error.message,
    "The user has not allowed this client",
  );
});
