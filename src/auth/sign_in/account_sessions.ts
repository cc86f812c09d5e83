/**
 * @module
 * What a person sees and ends of their own sessions on the account page: their signed-in
 * browsers, the apps holding a refresh family and the devices their logins are remembered from,
 * each ended (forgotten) on its own, or all at once. Only
 * the person's own sessions can be named; every end is an audit event. It never reads a request
 * and never builds a response.
 */
import { unixNow, type UnixSeconds } from "../../clock.ts";
import type { AccountActivityStore } from "../../store/account_activity.ts";
import type { AccountStore } from "../../store/accounts.ts";
import type { RememberedDeviceStore } from "../../store/remembered_devices.ts";
import type { ClientRegistry } from "../clients/registry.ts";
import { AuthFailure } from "../errors.ts";
import { type Origin, type SecurityEvents, UNRECORDED } from "../events.ts";
import type { RefreshFamilies } from "../tokens/refresh_families.ts";
import type { BrowserSession, BrowserSessions } from "./browser_sessions.ts";

/** A signed-in browser as the account page lists it. */
export interface BrowserSessionEntry {
  sid: string;
  signedInAt: UnixSeconds;
  /** Whether it is the browser looking at the page. */
  current: boolean;
}

/** An app holding live refresh families of the person. */
export interface AppEntry {
  clientId: string;
  clientName: string;
  /** When its newest session started. */
  lastSignInAt: UnixSeconds;
  /** How many live sessions (refresh families) it holds. */
  sessions: number;
}

/** A device the person's logins are remembered from (see accounts/device_tokens.ts). */
export interface DeviceEntry {
  deviceId: string;
  /** What it said it was at its first login. */
  label: string;
  firstSeenAt: UnixSeconds;
  lastSeenAt: UnixSeconds;
}

/** A person's live sessions. */
export interface AccountActivity {
  browsers: BrowserSessionEntry[];
  apps: AppEntry[];
  devices: DeviceEntry[];
}

/** What the account's sessions work with. */
export interface AccountSessionsDeps {
  store: AccountActivityStore & RememberedDeviceStore & Pick<AccountStore, "endUserSessions">;
  browserSessions: BrowserSessions;
  families: RefreshFamilies;
  clients: ClientRegistry;
  events?: SecurityEvents;
}

/**
 * A person's own sessions.
 *
 * @example
 * ```ts
 * const { browsers, apps } = await sessions.activity(session);
 * await sessions.signOutApp(session, "grafana", origin);
 * ```
 */
export class AccountSessions {
  #deps: AccountSessionsDeps;
  #events: SecurityEvents;

  constructor(deps: AccountSessionsDeps) {
    this.#deps = deps;
    this.#events = deps.events ?? UNRECORDED;
  }

  /** The live browsers, apps and remembered devices of the session's user. */
  async activity(session: BrowserSession): Promise<AccountActivity> {
    const { store, clients } = this.#deps;
    const now = unixNow();
    const browsers = (await store.listBrowserSessions(session.username, now)).map((record) => ({
      sid: record.sid,
      signedInAt: record.authTime,
      current: record.sid === session.sid,
    }));
    const apps = new Map<string, AppEntry>();
    for (const family of await store.listLiveFamilies(session.username, now)) {
      const app = apps.get(family.clientId);
      if (app) {
        app.sessions += 1;
        continue;
      }
      const clientName = (await clients.find(family.clientId))?.displayName ?? family.clientId;
      apps.set(family.clientId, {
        clientId: family.clientId,
        clientName,
        lastSignInAt: family.createdAt,
        sessions: 1,
      });
    }
    const devices = (await store.listRememberedDevices(session.username, now)).map(
      ({ deviceId, label, firstSeenAt, lastSeenAt }) => ({
        deviceId,
        label,
        firstSeenAt,
        lastSeenAt,
      }),
    );
    return { browsers, apps: [...apps.values()], devices };
  }

  /** Ends one of the user's browser sessions (and the families issued in it). */
  async endBrowser(session: BrowserSession, sid: string, origin?: Origin): Promise<void> {
    const live = await this.#deps.store.listBrowserSessions(session.username, unixNow());
    if (!live.some((record) => record.sid === sid)) throw notYours();
    await this.#deps.browserSessions.end(sid, { subject: session.username, origin });
  }

  /** Ends every live session the user has in one app. */
  async signOutApp(session: BrowserSession, clientId: string, origin?: Origin): Promise<void> {
    const { store, families } = this.#deps;
    const live = (await store.listLiveFamilies(session.username, unixNow()))
      .filter((family) => family.clientId === clientId);
    if (live.length === 0) throw notYours();
    for (const family of live) await families.revokeFamily(family.id);
    this.#events.record(
      { event: "app_signed_out", subject: session.username, client: clientId },
      origin,
    );
  }

  /**
   * Forgets one of the user's remembered devices: its device token no longer counts, and its
   * next login starts over as a new device.
   */
  async forgetDevice(session: BrowserSession, deviceId: string, origin?: Origin): Promise<void> {
    if (!await this.#deps.store.forgetDevice(session.username, deviceId)) throw notYours();
    this.#events.record({ event: "device_forgotten", subject: session.username }, origin);
  }

  /** Ends every session of the user, this browser's included, and forgets their devices. */
  async signOutEverywhere(session: BrowserSession, origin?: Origin): Promise<void> {
    const { store } = this.#deps;
    const change = await store.endUserSessions(session.username, unixNow());
    const devicesForgotten = await store.forgetDevices(session.username);
    this.#events.record({
      event: "signed_out_everywhere",
      subject: session.username,
      sessionsEnded: change.sessionsEnded,
      devicesForgotten,
    }, origin);
  }
}

function notYours(): AuthFailure {
  return new AuthFailure("invalid_request", "No such session of yours is signed in");
}
