// Search: finds the lines whose text contains the query (case-insensitive) in the page's copy
// of the log's text, so lines in folded sections and lines never drawn are found too; marks the
// matches with the CSS Custom Highlight API (no change to the lines' HTML, so colours and links
// stay) and steps through them with next/previous. Lines that arrive later are searched as they
// come. A line's searchable text (what is shown: the progress bar's last state, no SGR
// sequences, lower case) is worked out the first time a search needs it, not as lines arrive.
(() => {
  const { progressText, stripAnsi } = window.WharfLog;
  // Ranges are made for the matches around the current one only: a query matching every line
  // of a 200,000-line log must not make 200,000 ranges.
  const HIGHLIGHT_AROUND = 300;
  const canHighlight = typeof CSS !== "undefined" && "highlights" in CSS && typeof Highlight !== "undefined";

  /** Ranges of every occurrence of `q` (lower case) in the text under `el`. */
  function rangesIn(el, q) {
    const nodes = [];
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let text = "";
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      nodes.push({ node: n, start: text.length });
      text += n.data;
    }
    const lower = text.toLowerCase();
    const ranges = [];
    const at = (offset) => {
      let i = nodes.length - 1;
      while (i > 0 && nodes[i].start > offset) i--;
      return { node: nodes[i].node, offset: offset - nodes[i].start };
    };
    for (let i = lower.indexOf(q); i !== -1 && q; i = lower.indexOf(q, i + q.length)) {
      const a = at(i);
      const b = at(i + q.length - 1);
      const r = new Range();
      r.setStart(a.node, a.offset);
      r.setEnd(b.node, b.offset + 1);
      ranges.push(r);
    }
    return ranges;
  }

  function searchText(message) {
    const text = message.includes("\\x0d") ? progressText(message).text : message;
    return (text.includes("\x1b[") ? stripAnsi(text) : text).toLowerCase();
  }

  /**
   * `lines`: every line of the page in id order (the page appends to it). `reveal(logId)`: make
   * the line visible (open its section, scroll to it).
   */
  function createLogSearch({ lines, input, countEl, prevButton, nextButton, reveal }) {
    const texts = []; // searchText of lines[i], for the first texts.length lines
    let query = "";
    let matches = []; // indexes into lines
    let current = -1;

    /** Matches of the query among lines from..end, appended to `matches`. */
    function scan(from) {
      for (let i = from; i < lines.length; i++) {
        if (texts[i] === undefined) texts[i] = searchText(lines[i].message);
        if (texts[i].includes(query)) matches.push(i);
      }
    }

    /** Lines from `from` on were added to `lines`. */
    function add(from) {
      if (!query) return;
      scan(from);
      show();
    }

    function run(q) {
      query = q.toLowerCase();
      matches = [];
      current = -1;
      if (query) scan(0);
      if (matches.length > 0) go(0);
      else show();
    }

    function go(index) {
      if (matches.length === 0) return;
      current = (index + matches.length) % matches.length;
      reveal(lines[matches[current]].logId);
      show();
    }

    function show() {
      const total = matches.length;
      countEl.textContent = query ? (total ? `${current + 1} of ${total}` : "no matches") : "";
      document.body.dataset.searchMatches = String(total);
      for (const el of document.querySelectorAll(".line.match-current")) el.classList.remove("match-current");
      if (current >= 0)
        document.getElementById(`L${lines[matches[current]].logId}`)?.classList.add("match-current");
      if (!canHighlight) return;
      const all = [];
      const here = [];
      const from = Math.max(0, current - HIGHLIGHT_AROUND);
      for (let m = from; m < Math.min(total, from + 2 * HIGHLIGHT_AROUND); m++) {
        const msg = document.querySelector(`#L${lines[matches[m]].logId} .msg`);
        if (!msg) continue;
        const ranges = rangesIn(msg, query);
        all.push(...ranges);
        if (m === current) here.push(...ranges);
      }
      CSS.highlights.set("search", new Highlight(...all));
      CSS.highlights.set("search-current", new Highlight(...here));
    }

    input.addEventListener("input", () => run(input.value));
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        go(current + (e.shiftKey ? -1 : 1));
      } else if (e.key === "Escape") {
        input.value = "";
        run("");
        input.blur();
      }
    });
    nextButton.addEventListener("click", () => go(current + 1));
    prevButton.addEventListener("click", () => go(current - 1));

    return {
      add,
      refresh: () => {
        if (query) show();
      },
      next: () => go(current + 1),
      previous: () => go(current - 1),
      focus: () => input.focus(),
    };
  }

  window.WharfLogSearch = { createLogSearch };
})();
