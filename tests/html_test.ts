/**
 * @module
 * The page building blocks: escaping templates, the page response, and reading cookies.
 */
import assert from "node:assert/strict";
import { clearedSessionCookie, readCookie, sessionCookie } from "../src/http/cookies.ts";
import { escapeHtml, html, htmlResponse } from "../src/http/html.ts";

Deno.test("html escapes interpolated text in content and attributes, keeps Html, joins arrays, drops empty values", () => {
  const evil = `"><script>alert('x')</script>&`;
  assert.equal(
    html`<p title="${evil}">${evil}</p>`.toString(),
    '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">' +
      "&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>",
  );
  const item = (text: string) => html`<li>${text}</li>`;
  assert.equal(
    html`<ul>${["a<", "b"].map(item)}</ul>`.toString(),
    "<ul><li>a&lt;</li><li>b</li></ul>",
  );
  assert.equal(html`${undefined}${null}${false}${0}|`.toString(), "0|");
  assert.equal(escapeHtml("plain text"), "plain text");
});

Deno.test("htmlResponse sends HTML, never cached, with a CSP that allows only our stylesheet and forms", async () => {
  const res = htmlResponse(html`<p>hi</p>`, {
    status: 400,
    formTargets: ["https://app.example", "https://app.example"],
    headers: { "retry-after": "3" },
  });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("retry-after"), "3");
  assert.equal(
    res.headers.get("content-security-policy"),
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' https://app.example; " +
      "frame-ancestors 'none'; base-uri 'none'",
  );
  assert.equal(await res.text(), "<!doctype html>\n<p>hi</p>");
});

Deno.test("readCookie finds a cookie among others, also in headers joined by HTTP/2, and nothing else", () => {
  assert.equal(readCookie("a=1; __Host-auth-session=abc; b=2", "__Host-auth-session"), "abc");
  assert.equal(readCookie("a=1;__Host-auth-session=abc", "__Host-auth-session"), "abc");
  // A comma is part of a value: what follows it is never a cookie of its own.
  assert.equal(readCookie("a=1, __Host-auth-session=abc", "__Host-auth-session"), undefined);
  assert.equal(readCookie("x=a,__Host-auth-session=B", "__Host-auth-session"), undefined);
  assert.equal(
    readCookie("x=a,__Host-auth-session=B; __Host-auth-session=A", "__Host-auth-session"),
    "A",
  );
  assert.equal(readCookie("x=a,__Host-auth-session=B; y=1", "x"), "a,__Host-auth-session=B");
  // A name sent twice is trusted in neither copy, whatever the order.
  assert.equal(
    readCookie("__Host-auth-session=B; __Host-auth-session=A", "__Host-auth-session"),
    undefined,
  );
  assert.equal(
    readCookie("__Host-auth-session=A; a=1; __Host-auth-session=A", "__Host-auth-session"),
    undefined,
  );
  assert.equal(readCookie("__Host-auth-session=; a=1", "__Host-auth-session"), "");
  assert.equal(readCookie('a=1;__Host-auth-session="abc"', "__Host-auth-session"), "abc");
  assert.equal(readCookie("x__Host-auth-session=abc", "__Host-auth-session"), undefined);
  assert.equal(readCookie(null, "__Host-auth-session"), undefined);
  assert.equal(
    sessionCookie("v"),
    "__Host-auth-session=v; Path=/; Secure; HttpOnly; SameSite=Lax",
  );
  assert.match(
    clearedSessionCookie(),
    /^__Host-auth-session=; Path=\/; Max-Age=0; Secure; HttpOnly/,
  );
});
