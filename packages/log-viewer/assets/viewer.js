// The build log page: follows GET <logs>?follow=true (Server-Sent Events, see log-events.ts)
// and renders lines with anser (window.Anser, prepended to this file by the server).
(() => {
  const body = document.body;
  const logsUrl = body.dataset.logsUrl;
  const pane = document.getElementById("log-pane");
  const logEl = document.getElementById("log");
  const stepList = document.getElementById("step-list");
  const statusEl = document.getElementById("build-status");
  const countEl = document.getElementById("line-count");
  const noticeEl = document.getElementById("notice");
  const jump = document.getElementById("jump");

  const steps = new Map(); // stepId -> { label, status, item }
  const ansiByStep = new Map(); // one Anser per step: a colour set on one line carries to the next
  let lastLogId = 0;
  let skipped = 0;
  // Lines wait here for the next animation frame: one DOM insert and one scroll per frame, however
  // many events arrived, so a fast log cannot make the page fall behind.
  let pending = [];
  let frameRequested = false;
  // Lines go into chunks of CHUNK_LINES; chunks off screen skip layout (content-visibility).
  const CHUNK_LINES = 500;
  let chunk = null;
  let chunkLines = 0;
  let autoScroll = true;
  const anchor = /^#L(\d+)$/.exec(location.hash);
  let anchorId = anchor ? Number(anchor[1]) : 0;
  if (anchorId) autoScroll = false;

  const escapeHtml = (s) =>
    String(s).replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );

  function atBottom() {
    return pane.scrollHeight - pane.scrollTop - pane.clientHeight < 4;
  }
  function scrollToEnd() {
    pane.scrollTop = pane.scrollHeight;
  }
  // Reading up stops the auto-scroll; coming back to the bottom resumes it.
  pane.addEventListener("scroll", () => {
    autoScroll = atBottom();
    jump.hidden = autoScroll;
  });
  jump.addEventListener("click", () => {
    autoScroll = true;
    jump.hidden = true;
    scrollToEnd();
  });

  function stepLabel(stepId) {
    const step = steps.get(stepId);
    if (step) return step.label;
    return stepId === 0 ? "build" : `step ${stepId}`;
  }

  function setStatus(el, status) {
    el.textContent = status.toLowerCase();
    el.className = `status status-${status}`;
  }

  function renderSteps(list) {
    stepList.textContent = "";
    steps.clear();
    for (const s of list) {
      const item = document.createElement("li");
      item.dataset.stepId = String(s.stepId);
      item.innerHTML = `<span class="status"></span> <span class="step-name st-${s.stepId % 6}">${escapeHtml(
        s.stage ? `${s.stage}/${s.name}` : s.name,
      )}</span>`;
      stepList.append(item);
      const step = { label: s.stage ? `${s.stage}/${s.name}` : s.name, item };
      steps.set(s.stepId, step);
      setStatus(item.querySelector(".status"), s.status);
    }
  }

  function appendToChunks(html, count) {
    if (!chunk || chunkLines >= CHUNK_LINES) {
      chunk = document.createElement("div");
      chunk.className = "chunk";
      logEl.append(chunk);
      chunkLines = 0;
    }
    chunk.insertAdjacentHTML("beforeend", html);
    chunkLines += count;
  }

  function queueLines(lines) {
    for (const line of lines) pending.push(line);
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(() => {
      frameRequested = false;
      const lines = pending;
      pending = [];
      renderLines(lines);
    });
  }

  function renderLines(lines) {
    let html = "";
    const shown = [];
    for (const line of lines) {
      // A line already on the page is not drawn twice; the count shows up if it ever happens.
      if (line.logId <= lastLogId) {
        skipped++;
        continue;
      }
      let ansi = ansiByStep.get(line.stepId);
      if (!ansi) {
        ansi = new window.Anser();
        ansiByStep.set(line.stepId, ansi);
      }
      const message = ansi.ansiToHtml(ansi.escapeForHtml(line.message));
      html +=
        `<div class="line" id="L${line.logId}" data-step-id="${line.stepId}">` +
        `<a class="ln" href="#L${line.logId}">${line.logId}</a>` +
        `<span class="st st-${line.stepId % 6}">${escapeHtml(stepLabel(line.stepId))}</span>` +
        `<span class="msg">${message}</span></div>`;
      lastLogId = line.logId;
      shown.push(line);
    }
    if (html) appendToChunks(html, shown.length);
    countEl.textContent = `${lastLogId} lines`;
    body.dataset.lastLogId = String(lastLogId);
    body.dataset.skipped = String(skipped);
    if (anchorId && anchorId <= lastLogId) {
      const target = document.getElementById(`L${anchorId}`);
      anchorId = 0;
      if (target) {
        target.classList.add("target");
        target.scrollIntoView({ block: "center" });
      }
    } else if (autoScroll) {
      scrollToEnd();
    }
    // For tests and the latency bench: which lines reached the page, and when.
    document.dispatchEvent(new CustomEvent("wharf:lines", { detail: { lines: shown, at: Date.now() } }));
  }

  const events = new EventSource(`${logsUrl}?follow=true`);
  events.addEventListener("summary", (e) => {
    const s = JSON.parse(e.data);
    renderSteps(s.steps);
    setStatus(statusEl, s.status);
    noticeEl.hidden = true;
  });
  events.addEventListener("log", (e) => queueLines(JSON.parse(e.data)));
  events.addEventListener("status", (e) => {
    const ev = JSON.parse(e.data);
    if (ev.stepId === 0) setStatus(statusEl, ev.status);
    const step = steps.get(ev.stepId);
    if (step) setStatus(step.item.querySelector(".status"), ev.status);
  });
  events.addEventListener("problem", (e) => {
    noticeEl.textContent = `reconnecting: ${JSON.parse(e.data).message}`;
    noticeEl.hidden = false;
  });
  events.addEventListener("end", (e) => {
    const end = JSON.parse(e.data);
    events.close();
    setStatus(statusEl, end.status);
    body.dataset.ended = "true";
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
})();
