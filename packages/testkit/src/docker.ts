import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Image every Docker test uses: busybox built locally, since no registry is reachable. */
export const BUSYBOX_IMAGE = "wharf-test/busybox:latest";

/**
 * The engine's API socket the tests use: DOCKER_HOST's when it is a unix socket (e.g. a
 * Podman service's), else Docker's default. The docker CLI in these helpers follows it too.
 */
export function dockerSocketPath(): string {
  const host = process.env.DOCKER_HOST ?? "";
  return host.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}

/** True when a Docker (or Podman) engine answers on the default socket. */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await run("docker", ["version", "--format", "{{.Server.Version}}"], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** True when the engine answering is Podman's Docker API (it differs in what some tests need). */
export async function engineIsPodman(): Promise<boolean> {
  const { stdout } = await run("docker", ["version", "-f", "{{json .Server.Components}}"], {
    timeout: 10_000,
  });
  return stdout.includes("Podman");
}

/**
 * Docker tests skip when no engine runs (a laptop without Docker), but CI sets
 * WHARF_REQUIRE_DOCKER=1 so that a missing engine fails instead of silently skipping.
 */
export async function requireDockerOrSkip(): Promise<boolean> {
  const ok = await dockerAvailable();
  if (!ok && process.env.WHARF_REQUIRE_DOCKER === "1") {
    throw new Error("WHARF_REQUIRE_DOCKER=1 but no Docker engine answers");
  }
  return ok;
}

/** Builds BUSYBOX_IMAGE from the host's busybox-static binary, once. */
export async function ensureBusyboxImage(): Promise<void> {
  try {
    await run("docker", ["image", "inspect", BUSYBOX_IMAGE], { timeout: 10_000 });
    return;
  } catch {
    // not there yet: build it below
  }
  const busybox = ["/bin/busybox", "/usr/bin/busybox"];
  let bin: string | undefined;
  for (const b of busybox) {
    if (
      await fs.stat(b).then(
        () => true,
        () => false,
      )
    )
      bin = b;
  }
  if (!bin) throw new Error("busybox not found: apt-get install busybox-static");
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-busybox-"));
  try {
    await fs.mkdir(path.join(root, "bin"));
    await fs.mkdir(path.join(root, "tmp"), { mode: 0o1777 });
    await fs.mkdir(path.join(root, "etc"));
    await fs.writeFile(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    await fs.copyFile(bin, path.join(root, "bin/busybox"));
    await fs.chmod(path.join(root, "bin/busybox"), 0o755);
    const { stdout } = await run(bin, ["--list"]);
    for (const applet of stdout.split("\n").map((s) => s.trim())) {
      // The busybox entry itself is the real binary; linking it onto itself would break it.
      if (!applet || applet === "busybox") continue;
      await fs.symlink("busybox", path.join(root, "bin", applet)).catch(() => {});
    }
    await run("sh", ["-c", `tar -C '${root}' -c . | docker import -c 'ENV PATH=/bin' - ${BUSYBOX_IMAGE}`], {
      timeout: 120_000,
    });
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

/** Ids of containers carrying `label` (key or key=value), running or not. */
export async function containersWithLabel(label: string): Promise<string[]> {
  const { stdout } = await run("docker", ["ps", "-aq", "--filter", `label=${label}`]);
  return stdout.split("\n").filter(Boolean);
}
