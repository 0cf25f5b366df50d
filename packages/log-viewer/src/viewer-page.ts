import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const assetsDir = new URL("../assets/", import.meta.url);

/** The page's static files, read once when the routes are registered. */
export interface ViewerAssets {
  /** anser (wrapped for the browser) followed by the page's own script. */
  script: string;
  style: string;
}

/**
 * anser ships one dependency-free CommonJS file and no browser build; giving it a `module`
 * object of its own is all the bundling it needs to become `window.Anser`.
 */
function anserForBrowser(): string {
  const source = readFileSync(require.resolve("anser"), "utf8");
  return `(function () {\nvar module = { exports: {} };\n${source}\nwindow.Anser = module.exports;\n})();\n`;
}

export function loadViewerAssets(): ViewerAssets {
  return {
    script: `${anserForBrowser()}\n${readFileSync(new URL("viewer.js", assetsDir), "utf8")}`,
    style: readFileSync(new URL("viewer.css", assetsDir), "utf8"),
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
export function viewerPage(buildRef: string): string {
  const ref = escapeHtml(buildRef);
  const logsUrl = escapeHtml(`../api/builds/${encodeURIComponent(buildRef)}/logs`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Build ${ref} · wharf</title>
<link rel="stylesheet" href="-/viewer.css">
</head>
<body data-build-ref="${ref}" data-logs-url="${logsUrl}">
<header>
  <h1>Build <span class="ref">${ref}</span></h1>
  <span id="build-status" class="status">connecting</span>
  <span id="line-count"></span>
  <span id="notice" hidden></span>
  <a id="download" href="${logsUrl}?format=text" download="build-${ref}.log">Download log</a>
</header>
<main>
  <nav id="steps" aria-label="Steps"><h2>Steps</h2><ol id="step-list"></ol></nav>
  <section id="log-pane"><div id="log" role="log"></div></section>
  <button id="jump" type="button" hidden>Follow ↓</button>
</main>
<script src="-/viewer.js"></script>
</body>
</html>
`;
}
