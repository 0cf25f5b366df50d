import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, "../../..");

// The message and service types every client and the server are typed with are generated from
// the .proto files; committed ones that differ from a fresh generation fail here.
it("proto/generated is what the .proto files give", async () => {
  const { stderr } = await run("node", [path.join(repo, "scripts/gen-proto-types.mjs"), "--check"]).catch(
    (err: { stderr: string }) => ({ stderr: err.stderr }),
  );
  expect(stderr).toBe("");
});
