// The log as one collapsible section per step, in step order (the build's own lines first).
// Parallel steps write at the same time; a section keeps each step's lines together, as the
// step list and the raw download per step do. A section folds once its step succeeded or was
// cancelled and stays open when it failed, unless the reader opened or folded it by hand.
//
// Lines go into chunks of CHUNK_LINES. Appending a line costs a push: its HTML, its colours and
// its progress-bar reduction are worked out only when its chunk is drawn. A chunk is drawn when
// it comes near the viewport (or a search or a permalink needs one of its lines), or at once when
// it continues a drawn chunk (a followed live log reaches the DOM in the frame its lines came)
// or the whole log is small. Until then it is a placeholder of its estimated height. Past
// VIRTUAL_LINES lines, drawn chunks far from the viewport go back to placeholders of their
// measured height, so a 200,000-line log keeps a few thousand lines in the DOM however far the
// reader scrolled.
(() => {
  const { escapeHtml, messageHtml, progressText } = window.WharfLog;
  const CHUNK_LINES = 500;
  const EAGER_LINES = 5000;
  const VIRTUAL_LINES = 20_000;
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
    let buildStart = null;
    let total = 0;
    let targetId = 0; // the permalinked line, marked again whenever its chunk is drawn
    const near = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          const chunk = e.target.chunk;
          if (e.isIntersecting) draw(chunk);
          else if (total > VIRTUAL_LINES && chunk.section.open) undraw(chunk, e.boundingClientRect.height);
        }
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
        `<div class="section-lines" id="step-${stepId}-lines"></div>` +
        `<div class="line-live progress" id="P${stepId}" hidden></div>`;
      s = {
        stepId,
        el,
        button: el.querySelector(".fold"),
        linesEl: el.querySelector(".section-lines"),
        liveEl: el.querySelector(".line-live"),
        live: null, // the step's unfinished progress line (ProgressLine), if one is shown
        lastLogId: 0,
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
    }

    function setOpen(stepId, open, byUser = false) {
      const s = sectionFor(stepId);
      if (byUser) s.byUser = true;
      s.open = open;
      s.el.classList.toggle("folded", !open);
      s.button.setAttribute("aria-expanded", String(open));
      // The reader opened it from its head, right above its first lines: show those at once
      // instead of a frame of placeholder (the rest is drawn as it comes near the viewport).
      if (open && byUser && s.chunks[0]) draw(s.chunks[0]);
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

    function lineHtml(ansi, st, line) {
      const id = line.logId;
      const { text, updates } = progressText(line.message);
      const cls = `line${updates ? " progress" : ""}${id === targetId ? " target" : ""}`;
      return (
        `<div class="${cls}" id="L${id}"` +
        `${updates ? ` title="progress output: ${updates} updates, the last one shown"` : ""}>` +
        // Not a tab stop each: Tab goes from section to section, not through thousands of lines.
        `<a class="ln" href="#L${id}" aria-label="line ${id}" tabindex="-1">${id}</a>` +
        `<span class="ts"><span class="ts-abs">${clock(line.timestamp)}</span>` +
        `<span class="ts-rel">${sinceStart(line.timestamp - buildStart)}</span></span>` +
        `<span class="st st-${line.stepId % 6}">${st}</span>` +
        `<span class="msg">${messageHtml(ansi, text)}</span></div>`
      );
    }

    /**
     * The colours in force where `chunk` starts: its step's earlier chunks' lines with SGR
     * sequences replayed, from the nearest chunk that knows its own (each chunk remembers).
     * A chunk is full before the next one starts, so what is remembered stays true.
     */
    function startColours(chunk) {
      if (chunk.startColours) return chunk.startColours;
      const chunks = chunk.section.chunks;
      let i = chunk.index;
      while (i > 0 && !chunks[i].startColours) i--;
      if (!chunks[i].startColours) chunks[i].startColours = snapshot(new window.Anser());
      for (; i < chunk.index; i++) {
        const ansi = restored(chunks[i].startColours);
        for (const line of chunks[i].lines)
          if (line.message.includes(ESC)) ansi.ansiToJson(progressText(line.message).text);
        chunks[i + 1].startColours = snapshot(ansi);
      }
      return chunk.startColours;
    }

    /** Draws a chunk's lines not drawn yet, continuing its colours from where they stopped. */
    function draw(chunk) {
      if (chunk.drawn === chunk.lines.length) return;
      chunk.ansi ??= restored(startColours(chunk));
      const st = escapeHtml(chunk.section.label);
      let html = "";
      for (let i = chunk.drawn; i < chunk.lines.length; i++) html += lineHtml(chunk.ansi, st, chunk.lines[i]);
      if (chunk.drawn === 0) chunk.el.style.removeProperty("height");
      chunk.el.insertAdjacentHTML("beforeend", html);
      chunk.drawn = chunk.lines.length;
      onDrawn?.();
    }

    /** Back to a placeholder as tall as the chunk was, so nothing on screen moves. */
    function undraw(chunk, height) {
      if (chunk.drawn === 0 || height === 0) return;
      chunk.el.style.height = `${height}px`;
      chunk.el.replaceChildren();
      chunk.drawn = 0;
      chunk.ansi = null;
    }

    function newChunk(s) {
      const el = document.createElement("div");
      el.className = "chunk";
      const chunk = {
        el,
        section: s,
        index: s.chunks.length,
        lines: [],
        drawn: 0,
        startColours: null,
        ansi: null,
      };
      if (chunk.index === 0) chunk.startColours = snapshot(new window.Anser());
      el.chunk = chunk;
      s.linesEl.append(el);
      s.chunks.push(chunk);
      near.observe(el);
      return chunk;
    }

    /**
     * A step's unfinished progress line (the `progress` event): shown below its section's lines
     * until the step's next line comes or an empty one says it is gone. Drawn with the colours
     * the step's last drawn line left on (or none, when that is not drawn).
     */
    function setProgress(p) {
      const s = sectionFor(p.stepId);
      if (p.message === "" || s.lastLogId > p.afterLogId) {
        if (p.message === "" || s.live) clearProgress(s);
        return;
      }
      s.live = p;
      const last = s.chunks[s.chunks.length - 1];
      const ansi = last?.ansi ? restored(snapshot(last.ansi)) : new window.Anser();
      const { text } = progressText(p.message);
      s.liveEl.innerHTML =
        `<span class="ln" aria-hidden="true"></span><span class="st st-${p.stepId % 6}">${escapeHtml(s.label)}</span>` +
        `<span class="msg">${messageHtml(ansi, text)}</span>`;
      s.liveEl.title = "progress output, updating live";
      s.liveEl.hidden = false;
    }

    function clearProgress(s) {
      s.live = null;
      s.liveEl.hidden = true;
      s.liveEl.replaceChildren();
    }

    /** Appends lines (in id order) to their steps' sections. */
    function append(lines) {
      buildStart ??= lines[0]?.timestamp ?? null;
      const eager = total + lines.length <= EAGER_LINES;
      const touched = new Set();
      let s = null;
      let chunk = null;
      for (const line of lines) {
        if (s?.stepId !== line.stepId) {
          s = sectionFor(line.stepId);
          chunk = s.chunks[s.chunks.length - 1];
        }
        if (!chunk || chunk.lines.length >= CHUNK_LINES) chunk = newChunk(s);
        chunk.lines.push(line);
        s.lastLogId = line.logId;
        if (s.live && line.logId > s.live.afterLogId) clearProgress(s);
        touched.add(chunk);
      }
      total += lines.length;
      for (const c of touched) {
        const previous = c.section.chunks[c.index - 1];
        if (c.drawn > 0 || eager || (c.section.open && previous && previous.drawn > 0)) draw(c);
        else c.el.style.height = `${c.lines.length * LINE_PX}px`;
      }
    }

    /** Makes sure line `logId` of step `stepId` is drawn (search, permalinks). */
    function drawLine(stepId, logId) {
      const chunks = sections.get(stepId)?.chunks ?? [];
      let chunk = null;
      for (const c of chunks) if (c.lines[0].logId <= logId) chunk = c;
      if (chunk) draw(chunk);
    }

    const isOpen = (stepId) => sections.get(stepId)?.open ?? true;
    const markTarget = (logId) => {
      targetId = logId;
    };
    return { append, update, setOpen, isOpen, sectionFor, drawLine, markTarget, setProgress };
  }

  window.WharfLogSections = { createLogSections };
})();
