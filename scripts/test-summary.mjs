// Prints the plain closing line ("tests: N passed, N failed, N skipped") from
// vitest's JSON report, so any reader of CI output sees the totals.
import fs from "node:fs";

const file = process.argv[2] ?? "test-output/vitest.json";
if (!fs.existsSync(file)) {
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
const r = JSON.parse(fs.readFileSync(file, "utf8"));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
process.exit(r.numFailedTests > 0 || r.numTotalTests === 0 || !r.success ? 1 : 0);
