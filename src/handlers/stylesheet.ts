/**
 * @module
 * `GET /assets/pages.css`: the pages' one stylesheet.
 */
import type { Handler } from "../http/context.ts";
import { textResponse } from "../http/one_write.ts";
import { STYLESHEET } from "../pages/stylesheet.ts";

/** How long browsers may keep the stylesheet. */
const STYLESHEET_CACHE_CONTROL = "public, max-age=3600";

/** Serves the stylesheet. */
export function createStylesheetHandler(): Handler {
  return function stylesheet() {
    const res = textResponse(STYLESHEET);
    res.headers.set("content-type", "text/css; charset=utf-8");
    res.headers.set("cache-control", STYLESHEET_CACHE_CONTROL);
    return res;
  };
}
