/**
 * @module
 * `GET /assets/passkeys.js`: the pages' one script, which drives passkeys.
 */
import type { Handler } from "../http/context.ts";
import { textResponse } from "../http/one_write.ts";
import { PASSKEYS_SCRIPT } from "../pages/passkeys_script.ts";

/** How long browsers may keep the script. */
const SCRIPT_CACHE_CONTROL = "public, max-age=3600";

/** Serves the script. */
export function createPasskeysScriptHandler(): Handler {
  return function passkeysScript() {
    const res = textResponse(PASSKEYS_SCRIPT);
    res.headers.set("content-type", "text/javascript; charset=utf-8");
    res.headers.set("cache-control", SCRIPT_CACHE_CONTROL);
    res.headers.set("x-content-type-options", "nosniff");
    return res;
  };
}
