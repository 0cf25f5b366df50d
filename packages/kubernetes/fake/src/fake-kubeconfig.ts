import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FakeKubeApiServer } from "./fake-kube-api-server.js";

export interface FakeClusterEnv {
  fake: FakeKubeApiServer;
  /** Temp dir holding the kubeconfig; free for the test's own files too. */
  dir: string;
  /** Restores KUBECONFIG, stops the fake and removes `dir`. */
  close(): Promise<void>;
}

/**
 * A fake API server that services find the default way, through KUBECONFIG, as they
 * would outside a cluster: for tests that start a whole service against the fake.
 */
export async function startFakeClusterEnv(namespace: string): Promise<FakeClusterEnv> {
  const saved = process.env.KUBECONFIG;
  const fake = await FakeKubeApiServer.start();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-fake-kube-"));
  await fs.writeFile(path.join(dir, "kubeconfig"), fake.kubeConfigYaml(namespace));
  process.env.KUBECONFIG = path.join(dir, "kubeconfig");
  return {
    fake,
    dir,
    async close() {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
      await fake.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
