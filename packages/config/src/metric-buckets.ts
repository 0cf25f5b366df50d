/**
 * Buckets (seconds) of the build latency histograms every service exports (queue wait, worker
 * start, first line): one set, so dashboards can add and compare them. Fine below a second,
 * where issue 16's targets lie, then coarse up to an hour (a queue behind long builds).
 */
export const BUILD_LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
