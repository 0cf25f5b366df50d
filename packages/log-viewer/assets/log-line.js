// One log line as HTML: SGR colours and decorations through anser (window.Anser, prepended by
// the server: 16, 256 and truecolour, bold, underline...), links for URLs, and progress output
// (carriage returns) reduced to what a terminal would end up showing.
(() => {
  // The worker's store escapes a lone carriage return as the four characters `\x0d` (see
  // result-store's LineEncoder): `10%\x0d20%\x0d` is one stored line of a progress bar.
  const CR = "\\x0d";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: SGR sequences start with ESC
  const SGR = /\x1b\[[0-9;]*m/g;
  const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/g;
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);

  /**
   * What a terminal shows of a line with carriage returns: the last non-empty segment (each
   * `\r` went back to the start of the line and the next segment overwrote it). Colours set in
   * the overwritten segments still hold, so their SGR sequences are kept in front.
   */
  function progressText(message) {
    if (!message.includes(CR)) return { text: message, updates: 0 };
    const segments = message.split(CR);
    let last = segments.length - 1;
    while (last > 0 && segments[last].replace(SGR, "") === "") last--;
    const colours = segments.slice(0, last).join("").match(SGR) ?? [];
    return { text: colours.join("") + segments[last], updates: segments.length - 1 };
  }

  const stripAnsi = (s) => s.replace(SGR, "");

  // The 16 basic colours as anser gives them (its fixed xterm-like values) → the theme's own
  // (viewer.css, --ansi-0..15): anser's blue on a dark page, or its white and yellow on a light
  // one, cannot be read. Colours picked from the 256 palette or as truecolour stay as they are.
  const BASIC = new Map(
    [
      "0, 0, 0",
      "187, 0, 0",
      "0, 187, 0",
      "187, 187, 0",
      "0, 0, 187",
      "187, 0, 187",
      "0, 187, 187",
      "255,255,255",
      "85, 85, 85",
      "255, 85, 85",
      "0, 255, 0",
      "255, 255, 85",
      "85, 85, 255",
      "255, 85, 255",
      "85, 255, 255",
      "255, 255, 255",
    ].map((rgb, i) => [rgb, `var(--ansi-${i})`]),
  );

  function styleOf(chunk) {
    const css = [];
    // On a background the program chose itself, its own foreground stays too.
    if (chunk.fg) css.push(`color:${(!chunk.bg && BASIC.get(chunk.fg)) || `rgb(${chunk.fg})`}`);
    if (chunk.bg) css.push(`background-color:rgb(${chunk.bg})`);
    const lines = [];
    for (const d of chunk.decorations ?? []) {
      if (d === "bold") css.push("font-weight:bold");
      else if (d === "dim") css.push("opacity:0.6");
      else if (d === "italic") css.push("font-style:italic");
      else if (d === "hidden") css.push("visibility:hidden");
      else if (d === "underline") lines.push("underline");
      else if (d === "strikethrough") lines.push("line-through");
    }
    if (lines.length) css.push(`text-decoration:${lines.join(" ")}`);
    return css.join(";");
  }

  /** Escaped text with every URL in it as a link (opened in a new tab, without an opener). */
  function linkify(text) {
    let html = "";
    let at = 0;
    for (const m of text.matchAll(URL_RE)) {
      html += escapeHtml(text.slice(at, m.index));
      const url = escapeHtml(m[0]);
      html += `<a href="${url}" target="_blank" rel="noopener noreferrer">${url}</a>`;
      at = m.index + m[0].length;
    }
    return html + escapeHtml(text.slice(at));
  }

  /**
   * The message's HTML. `ansi` is the step's own Anser: a colour left on at the end of one
   * line carries to the step's next line, as on a terminal. (Anser keeps that state, but gives
   * the text before a line's first escape sequence no style: that part gets the carried one.)
   */
  function messageHtml(ansi, text) {
    const carried = { fg: ansi.fg, bg: ansi.bg, decorations: [...ansi.decorations] };
    const firstSgr = text.indexOf("\x1b[");
    const leading = firstSgr === -1 ? text : text.slice(0, firstSgr);
    let html = "";
    ansi.ansiToJson(text, { remove_empty: true }).forEach((chunk, i) => {
      const inner = linkify(chunk.content);
      const style = styleOf(i === 0 && leading !== "" ? carried : chunk);
      html += style ? `<span style="${style}">${inner}</span>` : inner;
    });
    return html;
  }

  function formatDuration(ms) {
    if (!Number.isFinite(ms) || ms < 0) return "";
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
  }

  /**
   * `GET <logs>?format=records` (log-records.ts): `logId TAB stepId TAB timestamp TAB message`
   * per line. The message is last, so only the first three tabs of a line count. Lines from
   * `from` up to `to` (the end of a line, or of the text), appended to `lines`. The numbers are read digit by digit:
   * slicing a string for each of them was most of what parsing a big log cost.
   */
  function parseRecords(text, from = 0, to = text.length, lines = []) {
    let at = from;
    function integer() {
      const start = at;
      const sign = text.charCodeAt(at) === 45 ? -1 : 1; // "-": a time before 1970
      if (sign === -1) at++;
      let value = 0;
      for (let digits = 0; ; digits++) {
        const c = text.charCodeAt(at++);
        if (c >= 48 && c <= 57) value = value * 10 + (c - 48);
        else if (c === 9 && digits > 0) return sign * value;
        else throw new Error(`malformed log record at ${start}`);
      }
    }
    while (at < to) {
      const logId = integer();
      const stepId = integer();
      const timestamp = integer();
      let end = text.indexOf("\n", at);
      if (end === -1 || end > to) end = to;
      lines.push({ logId, stepId, timestamp, message: text.slice(at, end) });
      at = end + 1;
    }
    return lines;
  }

  window.WharfLog = { escapeHtml, formatDuration, messageHtml, parseRecords, progressText, stripAnsi };
})();
