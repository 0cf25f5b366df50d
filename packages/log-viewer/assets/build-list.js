// The build list (/ and /builds): follows `api/builds?follow=true` (Server-Sent Events: a
// `builds` event with the newest builds at once and whenever they change) and redraws the table;
// the status filter is kept in the URL (?status=FAILED) so it can be shared.
(() => {
  const body = document.body;
  const api = body.dataset.api;
  const pageBase = body.dataset.page;
  const rowsEl = document.querySelector("#builds tbody");
  const emptyEl = document.getElementById("empty");
  const filter = document.getElementById("status-filter");
  const updatedEl = document.getElementById("list-updated");

  const params = new URLSearchParams(location.search);
  filter.value = params.get("status") ?? "";

  function duration(ms) {
    if (ms < 0 || !Number.isFinite(ms)) return "";
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    row.append(td);
    return td;
  }

  function render(builds) {
    const now = Date.now();
    const rows = builds.map((b) => {
      const row = document.createElement("tr");
      row.dataset.buildRef = b.buildRef;
      const link = document.createElement("a");
      link.href = `${pageBase}${encodeURIComponent(b.buildRef)}`;
      link.textContent = `#${b.buildRef}`;
      cell(row, "").append(link);
      cell(row, b.projectId ? `#${b.projectId}` : "", "project");
      cell(row, b.branch ?? "", "branch");
      const badge = document.createElement("span");
      badge.className = `status status-${b.status}`;
      badge.textContent = b.status.toLowerCase();
      cell(row, "").append(badge);
      cell(row, b.startedAt ? new Date(b.startedAt).toLocaleString() : "", "started");
      const end = b.finishedAt ?? (b.finished ? null : now);
      cell(row, b.startedAt && end ? duration(end - b.startedAt) : "", "duration");
      // Still running: its duration keeps growing between pushes (see the tick below).
      if (b.startedAt && !b.finished && b.finishedAt == null) row.dataset.startedAt = String(b.startedAt);
      cell(row, b.message ?? "", "message");
      return row;
    });
    // A reader moving through the rows by keyboard keeps their place when the list changes.
    const focused = document.activeElement?.closest?.("tr[data-build-ref]")?.dataset.buildRef;
    rowsEl.replaceChildren(...rows);
    if (focused !== undefined)
      rowsEl.querySelector(`tr[data-build-ref="${CSS.escape(focused)}"] a`)?.focus({ preventScroll: true });
    emptyEl.hidden = builds.length > 0;
    updatedEl.textContent = `updated ${new Date().toLocaleTimeString()}`;
    body.dataset.loaded = "true";
  }

  setInterval(() => {
    for (const row of rowsEl.querySelectorAll("tr[data-started-at]"))
      row.querySelector(".duration").textContent = duration(Date.now() - Number(row.dataset.startedAt));
  }, 1000);

  // One stream per filter; EventSource reconnects by itself after a drop.
  let events = null;
  function follow() {
    events?.close();
    const q = filter.value ? `&status=${encodeURIComponent(filter.value)}` : "";
    events = new EventSource(`${api}?follow=true${q}`);
    events.addEventListener("builds", (e) => render(JSON.parse(e.data).builds));
    events.addEventListener("error", () => {
      updatedEl.textContent =
        events.readyState === EventSource.CLOSED
          ? "could not load the builds: reload to try again"
          : "connection lost; reconnecting";
    });
  }

  filter.addEventListener("change", () => {
    const url = new URL(location.href);
    if (filter.value) url.searchParams.set("status", filter.value);
    else url.searchParams.delete("status");
    history.replaceState(null, "", url);
    follow();
  });
  follow();
})();
