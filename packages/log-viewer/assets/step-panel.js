// The step list: one row per step with its stage/name, status, attempt, duration and exit code.
// Steps come from the `summary` event (names, attempts, exit codes, and start/end when the
// aggregator kept them); a live build's `status` events give each step's start and end.
(() => {
  const { formatDuration } = window.WharfLog;
  const ENDED = ["SUCCESS", "FAILED", "CANCELLED"];
  // A step's clock starts when it is being set up or run, as the aggregator's step table counts it.
  const STARTED = ["INITIALIZING", "RUNNING"];

  /**
   * `onChange(step)` is called whenever a step's row changed (status, times, results), so the
   * log's sections can follow. `onSelect(stepId)` when the reader picks a step in the list.
   */
  function createStepPanel({ listEl, onChange, onSelect }) {
    const steps = new Map(); // stepId -> step (see `merge`)

    const labelOf = (s) => (s.stage ? `${s.stage}/${s.name}` : s.name);
    function label(stepId) {
      const step = steps.get(stepId);
      if (step) return step.label;
      return stepId === 0 ? "build" : `step ${stepId}`;
    }

    function durationOf(step, now = Date.now()) {
      if (step.startedAt == null) return "";
      return formatDuration((step.finishedAt ?? now) - step.startedAt);
    }

    function row(step) {
      const item = document.createElement("li");
      item.dataset.stepId = String(step.stepId);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "step-row";
      button.innerHTML =
        '<span class="status"></span> <span class="step-name"></span>' +
        ' <span class="step-meta"><span class="attempt"></span> <span class="duration"></span>' +
        ' <span class="exit-code"></span></span>';
      button.querySelector(".step-name").textContent = step.label;
      button.addEventListener("click", () => onSelect(step.stepId));
      item.append(button);
      return item;
    }

    function draw(step) {
      const item = step.item;
      const badge = item.querySelector(".status");
      badge.textContent = step.status.toLowerCase();
      badge.className = `status status-${step.status}`;
      item.dataset.status = step.status;
      item.querySelector(".attempt").textContent = step.attempts > 1 ? `attempt ${step.attempts}` : "";
      item.querySelector(".duration").textContent = durationOf(step);
      item.querySelector(".exit-code").textContent = step.exitCode == null ? "" : `exit ${step.exitCode}`;
      onChange(step);
    }

    /** Takes the summary's step list; what status events taught (times) is kept. */
    function render(list) {
      for (const s of list) {
        let step = steps.get(s.stepId);
        if (!step) {
          step = { stepId: s.stepId, startedAt: null, finishedAt: null };
          steps.set(s.stepId, step);
          step.item = row({ ...s, label: labelOf(s) });
          listEl.append(step.item);
        }
        Object.assign(step, {
          stage: s.stage,
          name: s.name,
          label: labelOf(s),
          status: s.status,
          attempts: s.attempts,
          exitCode: s.exitCode,
        });
        if (s.startedAt != null) step.startedAt = s.startedAt;
        if (s.finishedAt != null) step.finishedAt = s.finishedAt;
        draw(step);
      }
    }

    /**
     * A status event of a step (stepId > 0); events of unknown steps wait for the next summary.
     * Attempts and exit codes are not in events: the page asks for a summary when a step ends.
     */
    function status(ev) {
      const step = steps.get(ev.stepId);
      if (!step) return;
      step.status = ev.status;
      if (step.startedAt == null && STARTED.includes(ev.status)) step.startedAt = ev.timestamp;
      // A retried step runs again after FAILED: only its last end counts.
      step.finishedAt = ENDED.includes(ev.status) ? ev.timestamp : null;
      draw(step);
    }

    /** Running steps' durations grow: redrawn once a second. */
    function tick() {
      for (const step of steps.values()) {
        if (step.startedAt != null && step.finishedAt == null)
          step.item.querySelector(".duration").textContent = durationOf(step);
      }
    }

    return { label, render, status, tick, durationOf, steps };
  }

  window.WharfStepPanel = { createStepPanel };
})();
