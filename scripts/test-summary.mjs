// Prints the plain closing line ("tests: N passed, N failed, N skipped") from
// vitest's JSON reports (the main run, then the Podman run), summed, so any
// reader of CI output sees the totals.
import fs from "node:fs";

const files = process.argv.length > 2 ? process.argv.slice(2) : ["test-output/vitest.json"];
let passed = 0;
let failed = 0;
let skipped = 0;
let ok = true;
for (const file of files) {
  if (!fs.existsSync(file)) {
    console.log(`${file}: no report`);
    failed++;
    ok = false;
    continue;
  }
  const r = JSON.parse(fs.readFileSync(file, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if (r.numFailedTests > 0 || r.numTotalTests === 0 || !r.success) ok = false;
  if (files.length > 1) console.log(`${file}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok ? 0 : 1);
