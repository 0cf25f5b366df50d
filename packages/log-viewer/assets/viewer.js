// The build page: loads the log there is in one compact response (`?format=records`, see
// log-records.ts) and follows the rest as Server-Sent Events (`?follow=true&after=<its last
// id>`, see log-events.ts), and puts it together: the step list (step-panel.js), the log in sections per step
// (log-sections.js), search (log-search.js), follow mode, timestamps and the keyboard.
(() => {
  const body = document.body;
  const logsUrl = body.dataset.logsUrl;
  const summaryUrl = body.dataset.summaryUrl;
  const pane = document.getElementById("log-pane");
  const logEl = document.getElementById("log");
  const statusEl = document.getElementById("build-status");
  const durationEl = document.getElementById("build-duration");
  const countEl = document.getElementById("line-count");
  const noticeEl = document.getElementById("notice");
  const jump = document.getElementById("jump");
  const tsSelect = document.getElementById("timestamps");
  const ENDED = ["SUCCESS", "FAILED", "CANCELLED"];

  const panel = window.WharfStepPanel.createStepPanel({
    listEl: document.getElementById("step-list"),
    onChange: (step) => sections.update(step, panel.durationOf(step)),
    onSelect: (stepId) => {
      sections.setOpen(stepId, true, true);
      pauseFollow();
      document.getElementById(`step-${stepId}`)?.scrollIntoView({ block: "start" });
      document.getElementById(`step-${stepId}-title`)?.focus({ preventScroll: true });
    },
  });
  const sections = window.WharfLogSections.createLogSections({
    logEl,
    logsUrl,
    label: (stepId) => panel.label(stepId),
    onToggle: () => {
      if (autoScroll) scrollToEnd();
    },
    // A chunk drawn late (it came into view) gets its search marks too.
    onDrawn: () => search?.refresh(),
  });
  const allLines = []; // every line on the page, in id order
  const search = window.WharfLogSearch.createLogSearch({
    lines: allLines,
    input: document.getElementById("search"),
    countEl: document.getElementById("search-count"),
    prevButton: document.getElementById("search-prev"),
    nextButton: document.getElementById("search-next"),
    reveal,
  });

  const build = { status: "PENDING", startedAt: null, finishedAt: null };
  let lastLogId = 0;
  let skipped = 0;
  // Lines wait here for the next animation frame: one DOM insert and one scroll per frame, however
  // many events arrived, so a fast log cannot make the page fall behind.
  let pending = [];
  let frameRequested = false;
  let autoScroll = true;
  const anchor = /^#L(\d+)$/.exec(location.hash);
  let anchorId = anchor ? Number(anchor[1]) : 0;
  if (anchorId) autoScroll = false;

  function atBottom() {
    return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 4;
  }
  function scrollToEnd() {
    pane.scrollTop = pane.scrollHeight;
  }
  function pauseFollow() {
    autoScroll = false;
    jump.hidden = false;
  }
  function resumeFollow() {
    autoScroll = true;
    jump.hidden = true;
    scrollToEnd();
  }
  // Reading up pauses following; coming back to the bottom resumes it. Only a move up counts:
  // the log also grows below the reader (content-visibility learns chunks' real heights as
  // they come into view), which leaves a follower short of the bottom without anyone scrolling.
  let lastTop = 0;
  pane.addEventListener("scroll", () => {
    if (atBottom()) autoScroll = true;
    else if (pane.scrollTop < lastTop - 2) autoScroll = false;
    lastTop = pane.scrollTop;
    jump.hidden = autoScroll;
  });
  new ResizeObserver(() => {
    if (autoScroll) scrollToEnd();
  }).observe(logEl);
  jump.addEventListener("click", resumeFollow);

  /** Opens the line's section and scrolls to it (search, permalinks); following pauses. */
  function reveal(logId) {
    const stepId = lineById(logId)?.stepId;
    // The reader asked for this line: its section stays open whatever its step's status says later.
    if (stepId !== undefined) sections.setOpen(stepId, true, true);
    if (stepId !== undefined) sections.drawLine(stepId, logId);
    const el = document.getElementById(`L${logId}`);
    if (!el) return;
    autoScroll = false;
    el.scrollIntoView({ block: "center" });
    jump.hidden = atBottom();
  }

  /** Binary search: ids ascend (but need not be dense: a page may start after line 1). */
  function lineById(logId) {
    let lo = 0;
    let hi = allLines.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const id = allLines[mid].logId;
      if (id === logId) return allLines[mid];
      if (id < logId) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  function setBuildStatus(status) {
    build.status = status;
    statusEl.textContent = status.toLowerCase();
    statusEl.className = `status status-${status}`;
  }
  function drawDuration() {
    if (build.startedAt == null) return;
    durationEl.textContent = window.WharfLog.formatDuration(
      (build.finishedAt ?? Date.now()) - build.startedAt,
    );
  }
  setInterval(() => {
    panel.tick();
    if (build.finishedAt == null) drawDuration();
  }, 1000);

  function queueLines(lines) {
    for (const line of lines) pending.push(line);
    // Live lines wait for the records before them (loadRecords draws those, then these).
    if (frameRequested || loadingRecords) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      const lines = pending;
      pending = [];
      renderLines(lines);
    });
  }

  function renderLines(batch) {
    const shown = [];
    for (const line of batch) {
      // A line already on the page is not drawn twice; the count shows up if it ever happens.
      if (line.logId <= lastLogId) {
        skipped++;
        continue;
      }
      shown.push(line);
      lastLogId = line.logId;
    }
    if (shown.length > 0) {
      const from = allLines.length;
      for (const line of shown) allLines.push(line);
      sections.append(shown);
      search.add(from);
    }
    countEl.textContent = `${lastLogId} lines`;
    body.dataset.lastLogId = String(lastLogId);
    body.dataset.skipped = String(skipped);
    if (anchorId && anchorId <= lastLogId) {
      const id = anchorId;
      anchorId = 0;
      sections.markTarget(id);
      reveal(id); // draws the line first if its chunk was not drawn yet
      document.getElementById(`L${id}`)?.classList.add("target");
    } else if (autoScroll) {
      scrollToEnd();
    }
    // For tests and the latency bench: which lines reached the page, and when.
    document.dispatchEvent(new CustomEvent("wharf:lines", { detail: { lines: shown, at: Date.now() } }));
  }

  // Attempts and exit codes are in summaries, not in status events: ask once a step ended.
  let refreshing = 0;
  function refreshSummary() {
    clearTimeout(refreshing);
    refreshing = setTimeout(async () => {
      const res = await fetch(summaryUrl).catch(() => null);
      if (res?.ok) panel.render((await res.json()).steps);
    }, 200);
  }

  /**
   * The log there is now, in one response. Its header names its last line, so the event stream
   * for what comes after starts while the body still arrives; live lines wait in `pending`.
   */
  let loadingRecords = true;
  let events = null;
  async function loadRecords() {
    let after = 0;
    try {
      const res = await fetch(`${logsUrl}?format=records`);
      if (res.ok) {
        after = Number(res.headers.get("x-wharf-last-log-id") ?? 0);
        follow(after);
        renderLines(await readRecords(res));
      }
    } catch {
      // Cut off: the events carry on from the last line drawn instead.
      events?.close();
      events = null;
    }
    loadingRecords = false;
    if (!events) follow(lastLogId);
    else if (lastLogId < after) follow(lastLogId);
    queueLines([]);
  }
  const recordsLoaded = loadRecords();

  /**
   * The body's lines, decoded and parsed as they arrive (while the server still sends the
   * rest), then drawn at once: drawn piecemeal, the first pieces of a big log would be drawn
   * in full as if the log were small.
   */
  async function readRecords(res) {
    const lines = [];
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = rest + value;
      const cut = text.lastIndexOf("\n") + 1;
      window.WharfLog.parseRecords(text, 0, cut, lines);
      rest = text.slice(cut);
    }
    if (rest) window.WharfLog.parseRecords(rest, 0, rest.length, lines);
    return lines;
  }

  function follow(after) {
    events?.close();
    events = new EventSource(`${logsUrl}?follow=true${after ? `&after=${after}` : ""}`);
    listen(events);
  }

  function listen(events) {
    events.addEventListener("summary", (e) => {
      const s = JSON.parse(e.data);
      panel.render(s.steps);
      setBuildStatus(s.status);
      // Recorded by the aggregator: a released build's only times (there are no status events then).
      if (s.startedAt != null) build.startedAt ??= s.startedAt;
      if (s.finishedAt != null) build.finishedAt ??= s.finishedAt;
      drawDuration();
      noticeEl.hidden = true;
    });
    events.addEventListener("log", (e) => queueLines(JSON.parse(e.data)));
    events.addEventListener("status", (e) => {
      const ev = JSON.parse(e.data);
      if (ev.stepId !== 0) {
        panel.status(ev);
        if (ENDED.includes(ev.status)) refreshSummary();
        return;
      }
      setBuildStatus(ev.status);
      if (build.startedAt == null && ev.status !== "PENDING") build.startedAt = ev.timestamp;
      if (ENDED.includes(ev.status)) build.finishedAt = ev.timestamp;
      drawDuration();
    });
    events.addEventListener("progress", (e) => {
      sections.setProgress(JSON.parse(e.data));
      if (autoScroll) scrollToEnd();
    });
    events.addEventListener("problem", (e) => {
      noticeEl.textContent = `reconnecting: ${JSON.parse(e.data).message}`;
      noticeEl.hidden = false;
    });
    events.addEventListener("end", (e) => {
      const end = JSON.parse(e.data);
      events.close();
      setBuildStatus(end.status);
      if (build.startedAt != null) build.finishedAt ??= Date.now();
      refreshSummary();
      // Ended for the page once the lines before the stream's are drawn too.
      void recordsLoaded.then(() => {
        body.dataset.ended = "true";
      });
      if (end.message) {
        noticeEl.textContent = end.message;
        noticeEl.hidden = false;
      }
    });
    events.addEventListener("error", () => {
      if (events.readyState === EventSource.CLOSED && body.dataset.ended !== "true") {
        noticeEl.textContent = "disconnected: reload to try again";
        noticeEl.hidden = false;
      }
    });
  }

  // Timestamps: off, clock time, or time since the build's first line; kept across visits.
  function setTimestamps(mode) {
    body.dataset.timestamps = mode;
    tsSelect.value = mode;
    localStorage.setItem("wharf.timestamps", mode);
  }
  tsSelect.addEventListener("change", () => setTimestamps(tsSelect.value));
  setTimestamps(localStorage.getItem("wharf.timestamps") ?? "off");

  // Single-key shortcuts can be turned off (WCAG 2.1.4: speech input types words, and a key
  // pressed by mistake must not jump around): the help's checkbox, kept across visits. Off, the
  // keys are not announced (aria-keyshortcuts) or shown as hints either.
  const shortcutsBox = document.getElementById("shortcuts");
  const keyed = [...document.querySelectorAll("[aria-keyshortcuts]")].map((el) => ({
    el,
    keys: el.getAttribute("aria-keyshortcuts"),
  }));
  const hinted = [
    { el: document.getElementById("search"), attr: "placeholder", plain: "Search", hint: " (/)" },
    { el: document.getElementById("search-prev"), attr: "aria-label", plain: "Previous match", hint: " (N)" },
    { el: document.getElementById("search-next"), attr: "aria-label", plain: "Next match", hint: " (n)" },
  ];
  let shortcutsOn = true;
  function setShortcuts(on) {
    shortcutsOn = on;
    shortcutsBox.checked = on;
    body.dataset.shortcuts = on ? "on" : "off";
    localStorage.setItem("wharf.shortcuts", on ? "on" : "off");
    for (const { el, keys } of keyed) {
      if (on) el.setAttribute("aria-keyshortcuts", keys);
      else el.removeAttribute("aria-keyshortcuts");
    }
    for (const { el, attr, plain, hint } of hinted) el.setAttribute(attr, on ? plain + hint : plain);
  }
  shortcutsBox.addEventListener("change", () => setShortcuts(shortcutsBox.checked));
  setShortcuts(localStorage.getItem("wharf.shortcuts") !== "off");

  // Keys, as in other log viewers: / search, n / N next / previous match, t timestamps, f follow.
  document.addEventListener("keydown", (e) => {
    if (!shortcutsOn || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    const modes = ["off", "clock", "elapsed"];
    if (e.key === "/") search.focus();
    else if (e.key === "n") search.next();
    else if (e.key === "N") search.previous();
    else if (e.key === "t") setTimestamps(modes[(modes.indexOf(tsSelect.value) + 1) % modes.length]);
    else if (e.key === "f") resumeFollow();
    else return;
    e.preventDefault();
  });
})();
