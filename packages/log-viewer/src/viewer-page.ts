import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type BuildId, formatBuildId } from "@wharf/proto/build-id";

const require = createRequire(import.meta.url);
const assetsDir = new URL("../assets/", import.meta.url);

/** The page's static files, read once when the routes are registered. */
export interface ViewerAssets {
  /** anser (wrapped for the browser) followed by the page's own scripts. */
  script: string;
  style: string;
}

/** The page's scripts in load order: each one uses what the ones before it put on `window`. */
const SCRIPTS = ["log-line.js", "step-panel.js", "log-sections.js", "log-search.js", "viewer.js"];

/**
 * anser ships one dependency-free CommonJS file and no browser build; giving it a `module`
 * object of its own is all the bundling it needs to become `window.Anser`.
 */
function anserForBrowser(): string {
  const source = readFileSync(require.resolve("anser"), "utf8");
  return `(function () {\nvar module = { exports: {} };\n${source}\nwindow.Anser = module.exports;\n})();\n`;
}

const asset = (name: string) => readFileSync(new URL(name, assetsDir), "utf8");

export function loadViewerAssets(): ViewerAssets {
  return {
    script: [anserForBrowser(), ...SCRIPTS.map(asset)].join("\n"),
    style: `${asset("theme.css")}\n${asset("viewer.css")}`,
  };
}

const htmlEscapes: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => htmlEscapes[c]!);

/**
 * The page of one build. Every URL in it is relative (`-/viewer.js`, `../api/builds/...`), so
 * the routes work under any prefix the aggregator mounts them at.
 */
export function viewerPage(buildId: BuildId): string {
  // Digits only (formatBuildId): safe in HTML and in a URL as it is.
  const ref = formatBuildId(buildId);
  const api = `../api/builds/${ref}`;
  const logsUrl = escapeHtml(`${api}/logs`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Build ${ref} · wharf</title>
<link rel="stylesheet" href="-/viewer.css">
<!-- The log there is now, asked for while the page's script still loads (viewer.js fetches the
     same URL and gets this response). -->
<link rel="preload" href="${logsUrl}?format=records" as="fetch" crossorigin="anonymous">
</head>
<body data-build-ref="${ref}" data-logs-url="${logsUrl}" data-summary-url="${escapeHtml(`${api}/summary`)}">
<a class="skip-link" href="#log-pane">Skip to the log</a>
<header>
  <nav aria-label="Breadcrumb"><a href="../builds">Builds</a></nav>
  <h1>Build <span class="ref">${ref}</span></h1>
  <span id="build-status" class="status" role="status">connecting</span>
  <span id="build-duration"></span>
  <span id="line-count"></span>
  <span id="notice" role="alert" hidden></span>
  <search class="toolbar">
    <label for="search" class="visually-hidden">Search the log</label>
    <input id="search" type="search" placeholder="Search (/)" autocomplete="off" aria-keyshortcuts="/">
    <button id="search-prev" type="button" aria-label="Previous match (N)" aria-keyshortcuts="Shift+N">↑</button>
    <button id="search-next" type="button" aria-label="Next match (n)" aria-keyshortcuts="n">↓</button>
    <span id="search-count" aria-live="polite"></span>
  </search>
  <label>Timestamps<span class="key-hint"> (t)</span>
    <select id="timestamps" aria-keyshortcuts="t"><option value="off">off</option><option value="clock">clock</option><option value="elapsed">since start</option></select>
  </label>
  <a id="download" href="${logsUrl}?format=text" download="build-${ref}.log">Download log</a>
  <details id="keys-help">
    <summary>Keys</summary>
    <div class="keys-help-body">
      <p>Single-key shortcuts (not while typing in a field):</p>
      <dl>
        <dt><kbd>/</kbd></dt><dd>search</dd>
        <dt><kbd>n</kbd> <kbd>N</kbd></dt><dd>next, previous match</dd>
        <dt><kbd>t</kbd></dt><dd>timestamps: off, clock, since start</dd>
        <dt><kbd>f</kbd></dt><dd>follow the log again</dd>
      </dl>
      <p>In the search field: <kbd>Enter</kbd>, <kbd>Shift</kbd>+<kbd>Enter</kbd> next, previous; <kbd>Esc</kbd> clears it.</p>
      <label><input type="checkbox" id="shortcuts" checked> Single-key shortcuts on</label>
      <p class="note">Turned off, those keys do nothing on this page (for speech input, or keys pressed by
        mistake); the buttons and fields above do the same. Kept in this browser.</p>
    </div>
  </details>
</header>
<main>
  <nav id="steps" aria-label="Steps"><h2>Steps</h2><ol id="step-list"></ol></nav>
  <!-- Focusable, so the keyboard can scroll it; the log is not announced line by line (a
       build can print a thousand lines a second): the status and notices are. -->
  <section id="log-pane" aria-label="Log" tabindex="0"><div id="log" role="log" aria-live="off"></div></section>
  <button id="jump" type="button" aria-keyshortcuts="f" hidden>Follow ↓<span class="key-hint"> (f)</span></button>
</main>
<script src="-/viewer.js"></script>
</body>
</html>
`;
}
