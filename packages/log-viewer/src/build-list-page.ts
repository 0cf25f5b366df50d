import { STEP_STATUSES } from "@wharf/result-store";

/**
 * The build list page, served at `/` and `/builds`. Every URL is relative to the folder both
 * live in, so the routes work under any prefix; the rows come from `api/builds` (build-list.js).
 */
export function buildListPage(): string {
  const options = STEP_STATUSES.map((s) => `<option value="${s}">${s.toLowerCase()}</option>`).join("");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Builds · wharf</title>
<link rel="stylesheet" href="builds/-/theme.css">
</head>
<body class="build-list-page" data-api="api/builds" data-page="builds/">
<header>
  <h1>Builds</h1>
  <label>Status
    <select id="status-filter"><option value="">all</option>${options}</select>
  </label>
  <span id="list-updated"></span>
</header>
<main>
  <table id="builds">
    <caption class="visually-hidden">Recent builds, newest first</caption>
    <thead><tr><th scope="col">Build</th><th scope="col">Project</th><th scope="col">Branch</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Message</th></tr></thead>
    <tbody></tbody>
  </table>
  <p id="empty" hidden>No builds yet.</p>
</main>
<script src="builds/-/build-list.js"></script>
</body>
</html>
`;
}
