/** The dashboard's page shell: no inline script or style, so the strict CSP holds (http/session.ts). */
import type { Child } from "hono/jsx";
import { html } from "hono/html";

export const STATIC = "/dashboard/static";

export interface LayoutProps {
  title: string;
  /** Who is signed in: shows the sign-out button. */
  signedIn?: { name: string; role: string };
  /** ES modules of ours to load, by file name under /dashboard/static. */
  scripts?: string[];
  children: Child;
}

export function page(props: LayoutProps) {
  return html`<!doctype html>${(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        {/* No favicon request (and no 404 in the console): an empty data: icon. */}
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href={`${STATIC}/vendor/uPlot.min.css`} />
        <link rel="stylesheet" href={`${STATIC}/dashboard.css`} />
        {props.scripts?.length ? <script src={`${STATIC}/vendor/uPlot.iife.min.js`} /> : null}
        {props.scripts?.map((s) => <script type="module" src={`${STATIC}/${s}`} />)}
      </head>
      <body>
        <header class="top">
          <h1>Federal Job Advisor · revenue</h1>
          {props.signedIn ? (
            <form method="post" action="/dashboard/logout" class="signout">
              <span class="who">
                {props.signedIn.name} ({props.signedIn.role})
              </span>
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  )}`;
}
