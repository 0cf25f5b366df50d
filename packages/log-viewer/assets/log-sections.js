// The log as one collapsible section per step, in step order (the build's own lines first).
// Parallel steps write at the same time; a section keeps each step's lines together, as the
// step list and the raw download per step do. A section folds once its step succeeded or was
// cancelled and stays open when it failed, unless the reader opened or folded it by hand.
//
// Lines go into chunks of CHUNK_LINES; chunks off screen skip layout (content-visibility). Up to
// EAGER_LINES lines every chunk is drawn as its lines arrive. Beyond that a new chunk is a
// placeholder of its estimated height, drawn once it comes near the viewport (or a search or a
// permalink needs one of its lines): a 200,000-line log then costs the HTML of what is seen.
(() => {
  const { escapeHtml, messageHtml, progressText } = window.WharfLog;
  const CHUNK_LINES = 500;
  const EAGER_LINES = 20_000;
  const LINE_PX = 19; // a line's height in #log's font, for a placeholder's estimate
  const ESC = "\x1b[";
  const FOLD_WHEN_DONE = ["SUCCESS", "CANCELLED"];
  const pad = (n, w = 2) => String(n).padStart(w, "0");

  function clock(ts) {
    const d = new Date(ts);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }
  function sinceStart(ms) {
    const sign = ms < 0 ? "-" : "+";
    const abs = Math.abs(ms);
    const m = Math.floor(abs / 60_000);
    return `${sign}${m}:${pad(Math.floor(abs / 1000) % 60)}.${pad(abs % 1000, 3)}`;
  }

  // An Anser's whole state: a chunk drawn later starts with the colours its step had then.
  const ANSER_STATE = ["fg", "bg", "fg_truecolor", "bg_truecolor", "bright"];
  function snapshot(ansi) {
    const state = { decorations: [...ansi.decorations] };
    for (const k of ANSER_STATE) state[k] = ansi[k];
    return state;
  }
  function restored(state) {
    const ansi = new window.Anser();
    for (const k of ANSER_STATE) ansi[k] = state[k];
    ansi.decorations = [...state.decorations];
    return ansi;
  }

  function createLogSections({ logEl, logsUrl, label, onToggle, onDrawn }) {
    const sections = new Map(); // stepId -> section
    // Per step, the colours in force after its last line; only lines with SGR sequences move it.
    const colourByStep = new Map();
    let buildStart = null;
    let total = 0;
    const near = new IntersectionObserver(
      (entries) => {
        for (const e of entries) if (e.isIntersecting) draw(e.target.chunk);
      },
      { root: logEl.parentElement, rootMargin: "2000px 0px" },
    );

    function sectionFor(stepId) {
      let s = sections.get(stepId);
      if (s) return s;
      const el = document.createElement("section");
      el.className = "step-section";
      el.id = `step-${stepId}`;
      el.dataset.stepId = String(stepId);
      el.setAttribute("aria-labelledby", `step-${stepId}-title`);
      const raw = `${logsUrl}?format=text&step=${stepId}`;
      el.innerHTML =
        `<h2 class="section-head"><button type="button" class="fold" id="step-${stepId}-title"` +
        ` aria-expanded="true" aria-controls="step-${stepId}-lines"><span class="chevron" aria-hidden="true"></span>` +
        ' <span class="status"></span> <span class="section-name"></span> <span class="duration"></span></button>' +
        ` <a class="raw" href="${escapeHtml(raw)}" download="build-step-${stepId}.log">raw</a></h2>` +
        `<div class="section-lines" id="step-${stepId}-lines"></div>`;
      s = {
        stepId,
        el,
        button: el.querySelector(".fold"),
        linesEl: el.querySelector(".section-lines"),
        chunks: [],
        byUser: false,
        open: true,
        label: "",
      };
      s.button.addEventListener("click", () => setOpen(stepId, !s.open, true));
      setLabel(s, label(stepId));
      if (stepId === 0) s.el.querySelector(".status").hidden = true;
      const after = [...sections.values()]
        .filter((x) => x.stepId > stepId)
        .sort((a, b) => a.stepId - b.stepId)[0];
      logEl.insertBefore(el, after ? after.el : null);
      sections.set(stepId, s);
      return s;
    }

    function setLabel(s, text) {
      if (s.label === text) return;
      s.label = text;
      s.el.querySelector(".section-name").textContent = text;
      for (const st of s.linesEl.querySelectorAll(".st")) st.textContent = text;
      for (const c of s.chunks) c.label = text;
    }

    function setOpen(stepId, open, byUser = false) {
      const s = sectionFor(stepId);
      if (byUser) s.byUser = true;
      s.open = open;
      s.el.classList.toggle("folded", !open);
      s.button.setAttribute("aria-expanded", String(open));
      onToggle?.(stepId, open);
    }

    /** A step's row changed: its section's head follows, and it folds or opens as its status says. */
    function update(step, duration) {
      const s = sectionFor(step.stepId);
      setLabel(s, step.label);
      const badge = s.el.querySelector(".status");
      badge.textContent = step.status.toLowerCase();
      badge.className = `status status-${step.status}`;
      s.el.querySelector(".duration").textContent = duration;
      if (!s.byUser) setOpen(step.stepId, !FOLD_WHEN_DONE.includes(step.status));
    }

    function lineHtml(ansi, st, { line, text, updates }) {
      const id = line.logId;
      return (
        `<div class="line${updates ? " progress" : ""}" id="L${id}"` +
        `${updates ? ` title="progress output: ${updates} updates, the last one shown"` : ""}>` +
        `<a class="ln" href="#L${id}" aria-label="line ${id}">${id}</a>` +
        `<span class="ts"><span class="ts-abs">${clock(line.timestamp)}</span>` +
        `<span class="ts-rel">${sinceStart(line.timestamp - buildStart)}</span></span>` +
        `<span class="st st-${line.stepId % 6}">${st}</span>` +
        `<span class="msg">${messageHtml(ansi, text)}</span></div>`
      );
    }

    /** Draws a chunk's lines not drawn yet, continuing its colours from where they stopped. */
    function draw(chunk) {
      if (chunk.drawn === chunk.lines.length) return;
      chunk.ansi ??= restored(chunk.startColours);
      const st = escapeHtml(chunk.label);
      let html = "";
      for (let i = chunk.drawn; i < chunk.lines.length; i++) html += lineHtml(chunk.ansi, st, chunk.lines[i]);
      if (chunk.drawn === 0) chunk.el.style.removeProperty("height");
      chunk.el.insertAdjacentHTML("beforeend", html);
      chunk.drawn = chunk.lines.length;
      onDrawn?.();
    }

    function newChunk(s, stepId) {
      const el = document.createElement("div");
      el.className = "chunk";
      const chunk = {
        el,
        lines: [],
        drawn: 0,
        firstLogId: 0,
        label: label(stepId),
        startColours: snapshot(colourByStep.get(stepId)),
        ansi: null,
        eager: total < EAGER_LINES,
      };
      el.chunk = chunk;
      s.linesEl.append(el);
      s.chunks.push(chunk);
      if (!chunk.eager) near.observe(el);
      return chunk;
    }

    /** Appends lines (in id order) to their steps' sections; returns their searchable text. */
    function append(lines) {
      buildStart ??= lines[0]?.timestamp ?? null;
      const texts = [];
      const touched = new Set();
      for (const line of lines) {
        const { text, updates } = progressText(line.message);
        texts.push(text);
        const s = sectionFor(line.stepId);
        if (!colourByStep.has(line.stepId)) colourByStep.set(line.stepId, new window.Anser());
        let chunk = s.chunks[s.chunks.length - 1];
        if (!chunk || chunk.lines.length >= CHUNK_LINES) chunk = newChunk(s, line.stepId);
        chunk.firstLogId ||= line.logId;
        chunk.lines.push({ line, text, updates });
        if (text.includes(ESC)) colourByStep.get(line.stepId).ansiToJson(text);
        touched.add(chunk);
        total++;
      }
      for (const chunk of touched) {
        if (chunk.eager || chunk.drawn > 0) draw(chunk);
        else chunk.el.style.height = `${chunk.lines.length * LINE_PX}px`;
      }
      return texts;
    }

    /** Makes sure line `logId` of step `stepId` is drawn (search, permalinks). */
    function drawLine(stepId, logId) {
      const chunks = sections.get(stepId)?.chunks ?? [];
      let chunk = null;
      for (const c of chunks) if (c.firstLogId <= logId) chunk = c;
      if (chunk) draw(chunk);
    }

    const isOpen = (stepId) => sections.get(stepId)?.open ?? true;
    return { append, update, setOpen, isOpen, sectionFor, drawLine };
  }

  window.WharfLogSections = { createLogSections };
})();
