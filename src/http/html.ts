/**
 * @module
 * HTML for the pages people see: a tagged template that escapes every interpolated value, and
 * the response that carries a page with its strict Content-Security-Policy. It knows no page.
 */
import { textResponse } from "./one_write.ts";

/** A piece of HTML that is already safe: built only by {@linkcode html}. */
export class Html {
  readonly #text: string;

  /** Wraps text known to be safe HTML; only {@linkcode html} calls this. */
  constructor(text: string) {
    this.#text = text;
  }

  /** The HTML text. */
  toString(): string {
    return this.#text;
  }
}

/** The content type of every page. */
export const HTML_CONTENT_TYPE = "text/html; charset=utf-8";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for use in HTML content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => ESCAPES[character]);
}

/**
 * Builds HTML from a template: interpolated strings and numbers are escaped, {@linkcode Html}
 * values are kept, arrays are joined, and `undefined`, `null` and `false` vanish.
 *
 * @example
 * ```ts
 * html`<p>Hello, ${name}</p>`; // name "<b>" gives <p>Hello, &lt;b&gt;</p>
 * ```
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0];
  for (let i = 0; i < values.length; i++) text += render(values[i]) + strings[i + 1];
  return new Html(text);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(String(value));
}

/** How a page is answered. */
export interface PageOptions {
  status?: number;
  headers?: Record<string, string>;
  /** Where the page's forms may end up (`form-action`): redirect targets besides this origin. */
  formTargets?: readonly string[];
  /** Whether the page loads scripts from this origin (`script-src 'self'`); never inline. */
  scripts?: boolean;
}

/**
 * A page response: HTML, never cached, with a CSP that allows only our own stylesheet, forms
 * posting here (and redirecting to `formTargets`), no script but our own where a page asks for
 * it (`scripts`), and no framing.
 */
export function htmlResponse(page: Html, options: PageOptions = {}): Response {
  const formAction = ["'self'", ...new Set(options.formTargets ?? [])].join(" ");
  const res = textResponse(`<!doctype html>\n${page}`, { status: options.status ?? 200 });
  const headers = res.headers;
  headers.set("content-type", HTML_CONTENT_TYPE);
  headers.set("cache-control", "no-store");
  headers.set(
    "content-security-policy",
    `default-src 'none'; ${options.scripts ? "script-src 'self'; " : ""}style-src 'self'; ` +
      `img-src 'self'; form-action ${formAction}; ` +
      "frame-ancestors 'none'; base-uri 'none'",
  );
  for (const name in options.headers) headers.set(name, options.headers[name]);
  return res;
}
