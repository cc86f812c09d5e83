/**
 * @module
 * The sign-in part of the store's contract, the account page's activity: what a person sees of
 * their own sessions on the account page, the signed-in browsers and the live refresh families
 * (apps). It declares reads only; ending them goes through the sign-in and tokens parts.
 */
import type { UnixSeconds } from "../clock.ts";
import type { BrowserSessionRecord } from "./sign_in.ts";
import type { RefreshFamilyRecord } from "./tokens.ts";

/** Lists of a user's live sessions. */
export interface AccountActivityStore {
  /** The user's browser sessions live at `now`, newest first. */
  listBrowserSessions(username: string, now: UnixSeconds): Promise<BrowserSessionRecord[]>;
  /** The user's refresh families neither revoked nor expired at `now`, newest first. */
  listLiveFamilies(username: string, now: UnixSeconds): Promise<RefreshFamilyRecord[]>;
}
