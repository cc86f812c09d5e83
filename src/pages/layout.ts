/**
 * @module
 * The frame of every page: language, viewport for phones, title and our stylesheet. Pages put
 * their content in it; nothing here runs script.
 */
import { type Html, html } from "../http/html.ts";
import { STYLESHEET_PATH } from "./stylesheet.ts";

/** A whole HTML document around `content`. */
export function layout(title: string, content: Html): Html {
  return html`
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>${title}</title>
        <link rel="stylesheet" href="${STYLESHEET_PATH}">
      </head>
      <body>
        <main>
    ${content}
        </main>
      </body>
    </html>
  `;
}
