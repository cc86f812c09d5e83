/**
 * @module
 * The one stylesheet of the sign-in, consent, second-factor, account and sign-out pages: our
 * own, served from this service, readable on a phone, with a dark variant. No fonts, images or scripts from anywhere.
 */

/** Where pages link the stylesheet. */
export const STYLESHEET_PATH = "/assets/pages.css";

/** The stylesheet. */
export const STYLESHEET = `:root {
  color-scheme: light dark;
  --bg: #f4f5f7;
  --card: #ffffff;
  --text: #1b1f24;
  --muted: #57606a;
  --border: #d0d7de;
  --accent: #0b5cad;
  --accent-text: #ffffff;
  --error-bg: #fdecea;
  --error-text: #8a1c13;
  --focus: #f4b400;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217;
    --card: #1a1f27;
    --text: #e6edf3;
    --muted: #9da7b3;
    --border: #3a424d;
    --accent: #4c9bf0;
    --accent-text: #0f1217;
    --error-bg: #3d1714;
    --error-text: #ffb4ab;
  }
}
* { box-sizing: border-box; }
html { font-size: 100%; }
body {
  margin: 0;
  min-height: 100vh;
  display: flex;
  align-items: flex-start;
  justify-content: center;
  padding: 2rem 1rem;
  background: var(--bg);
  color: var(--text);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
}
main {
  width: 100%;
  max-width: 26rem;
  padding: 2rem 1.5rem;
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: 0.75rem;
}
h1 { margin: 0 0 0.25rem; font-size: 1.5rem; line-height: 1.25; }
.lead { margin: 0 0 1.5rem; color: var(--muted); }
.lead strong { color: var(--text); }
label { display: block; margin: 1rem 0 0.25rem; font-weight: 600; }
input[type="text"], input[type="password"] {
  display: block;
  width: 100%;
  padding: 0.625rem 0.75rem;
  font: inherit;
  color: var(--text);
  background: var(--card);
  border: 1px solid var(--border);
  border-radius: 0.375rem;
}
button {
  display: block;
  width: 100%;
  margin-top: 1.5rem;
  padding: 0.75rem 1rem;
  font: inherit;
  font-weight: 600;
  color: var(--accent-text);
  background: var(--accent);
  border: 1px solid var(--accent);
  border-radius: 0.375rem;
  cursor: pointer;
}
button.secondary { margin-top: 0.75rem; color: var(--text); background: transparent; border-color: var(--border); }
input:focus-visible, button:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.error {
  margin: 0 0 1rem;
  padding: 0.75rem 1rem;
  color: var(--error-text);
  background: var(--error-bg);
  border-radius: 0.375rem;
}
ul.scopes { margin: 0 0 0.5rem; padding-left: 1.25rem; }
ul.scopes li { margin: 0.375rem 0; }
.scope-name { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.875rem; color: var(--muted); }
footer { margin-top: 1.5rem; font-size: 0.875rem; color: var(--muted); }
h2 { margin: 1.5rem 0 0.5rem; font-size: 1.125rem; }
.notice { margin: 0 0 1rem; padding: 0.75rem 1rem; border: 1px solid var(--border); border-radius: 0.375rem; }
form.inline { margin: 0.5rem 0 0; }
input[hidden] { display: none; }
[hidden] { display: none !important; }
.qr-code { display: block; width: 12rem; height: 12rem; margin: 0 auto 1rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; overflow-wrap: anywhere; }
ul.recovery-codes { columns: 2; margin: 0 0 1rem; padding-left: 1.25rem; }
ul.recovery-codes li { margin: 0.25rem 0; }
`;
