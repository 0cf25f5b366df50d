// The log as one collapsible section per step, in step order (the build's own lines first).
// Parallel steps write at the same time; a section keeps each step's lines together, as the
// step list and the raw download per step do. A section folds once its step succeeded or was
// cancelled and stays open when it failed, unless the reader opened or folded it by hand.
(() => {
  const { escapeHtml, messageHtml, progressText } = window.WharfLog;
  // Lines go into chunks of CHUNK_LINES; chunks off screen skip layout (content-visibility).
  const CHUNK_LINES = 500;
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

  function createLogSections({ logEl, logsUrl, label, onToggle }) {
    const sections = new Map(); // stepId -> section
    const ansiByStep = new Map(); // one Anser per step: colours carry from line to line
    let buildStart = null;

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
        chunk: null,
        chunkLines: 0,
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

    function lineHtml(line, text, updates) {
      const id = line.logId;
      const ansi = ansiByStep.get(line.stepId) ?? new window.Anser();
      ansiByStep.set(line.stepId, ansi);
      const st = escapeHtml(label(line.stepId));
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

    /** Appends lines (in id order) to their steps' sections; returns their searchable text. */
    function append(lines) {
      buildStart ??= lines[0]?.timestamp ?? null;
      const byStep = new Map();
      const texts = [];
      for (const line of lines) {
        const { text, updates } = progressText(line.message);
        texts.push(text);
        const html = lineHtml(line, text, updates);
        const group = byStep.get(line.stepId);
        if (group) {
          group.html += html;
          group.count++;
        } else byStep.set(line.stepId, { html, count: 1 });
      }
      for (const [stepId, { html, count }] of byStep) {
        const s = sectionFor(stepId);
        if (!s.chunk || s.chunkLines >= CHUNK_LINES) {
          s.chunk = document.createElement("div");
          s.chunk.className = "chunk";
          s.linesEl.append(s.chunk);
          s.chunkLines = 0;
        }
        s.chunk.insertAdjacentHTML("beforeend", html);
        s.chunkLines += count;
      }
      return texts;
    }

    const isOpen = (stepId) => sections.get(stepId)?.open ?? true;
    return { append, update, setOpen, isOpen, sectionFor };
  }

  window.WharfLogSections = { createLogSections };
})();
