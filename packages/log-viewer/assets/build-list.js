// The build list (/ and /builds): asks `api/builds` for the newest builds every few seconds and
// redraws the table; the status filter is kept in the URL (?status=FAILED) so it can be shared.
(() => {
  const body = document.body;
  const api = body.dataset.api;
  const pageBase = body.dataset.page;
  const rowsEl = document.querySelector("#builds tbody");
  const emptyEl = document.getElementById("empty");
  const filter = document.getElementById("status-filter");
  const updatedEl = document.getElementById("list-updated");
  const POLL_MS = 2000;

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
      cell(row, b.message ?? "", "message");
      return row;
    });
    rowsEl.replaceChildren(...rows);
    emptyEl.hidden = builds.length > 0;
    updatedEl.textContent = `updated ${new Date().toLocaleTimeString()}`;
    body.dataset.loaded = "true";
  }

  let timer = 0;
  async function refresh() {
    clearTimeout(timer);
    const q = filter.value ? `?status=${encodeURIComponent(filter.value)}` : "";
    try {
      const res = await fetch(`${api}${q}`, { headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render((await res.json()).builds);
    } catch (err) {
      updatedEl.textContent = `could not load the builds (${err.message}); trying again`;
    }
    timer = setTimeout(refresh, POLL_MS);
  }

  filter.addEventListener("change", () => {
    const url = new URL(location.href);
    if (filter.value) url.searchParams.set("status", filter.value);
    else url.searchParams.delete("status");
    history.replaceState(null, "", url);
    void refresh();
  });
  void refresh();
})();
