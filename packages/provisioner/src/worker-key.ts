import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";

/**
 * The key workers' gRPC tokens derive from when the operator set none (WHARF_WORKER_TOKEN):
 * a random one, kept readable only by this user in the data directory so that workers still
 * running across a restart keep their tokens. Replicas on other hosts need the same key, so
 * they must be given WHARF_WORKER_TOKEN.
 */
export async function loadOrCreateWorkerKey(dataDir: string): Promise<string> {
  const file = path.join(dataDir, "worker-token.key");
  const existing = await fs.readFile(file, "utf8").catch(() => "");
  if (existing.trim()) return existing.trim();
  await fs.mkdir(dataDir, { recursive: true });
  const key = randomBytes(32).toString("base64url");
  try {
    await fs.writeFile(file, key, { mode: 0o600, flag: "wx" });
    return key;
  } catch {
    // Another process made it first: use theirs.
    return (await fs.readFile(file, "utf8")).trim();
  }
}
