import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Pod } from "kubernetes-models/v1/Pod";
import { afterAll, describe, expect, it } from "vitest";
import { CLONE_SCRIPT, labelValue, WORKER_SOURCE_DIR, type WorkerPodInput, workerPod } from "../src/index.js";

const run = promisify(execFile);

const input = (extra: Partial<WorkerPodInput> = {}): WorkerPodInput => ({
  workerId: "0192f0c4-7a1e-7000-8000-000000000001",
  buildId: 42,
  instance: "prod",
  projectId: "7",
  image: "ghcr.io/iver-wharf/wharf-worker:1.0.0",
  git: { url: "https://git.example/group/repo.git", branch: "main" },
  secret: { name: "wharf-worker-secret-0192f0c4", gitToken: true, workerToken: true },
  env: {
    WHARF_BUILD_REF: "42",
    WHARF_WORKER_ID: "0192f0c4-7a1e-7000-8000-000000000001",
    GIT_FULLURL: "https://git.example/group/repo.git",
    GIT_TOKEN: "s3cret",
    WHARF_WORKER_TOKEN: "w0rker-t0ken",
    VARS: '{"a":"1"}',
    WHARF_EXECUTOR: "kubernetes",
  },
  grpcPort: 5010,
  httpPort: 5011,
  ...extra,
});

const envOf = (c: { env?: { name: string; value?: string }[] } | undefined) =>
  Object.fromEntries((c?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));

describe("workerPod", () => {
  it("is schema-valid with the contract's labels, restartPolicy Never and generateName", () => {
    const pod = workerPod(input());
    expect(() => new Pod(JSON.parse(JSON.stringify(pod))).validate()).not.toThrow();
    expect(pod.metadata?.generateName).toBe("wharf-worker-42-");
    expect(pod.metadata?.name).toBeUndefined();
    expect(pod.spec?.restartPolicy).toBe("Never");
    // No WHARF_WORKER_PORT=tcp://… from a Service named wharf-worker (what crash-looped our Deployments).
    expect(pod.spec?.enableServiceLinks).toBe(false);
    expect(pod.metadata?.labels).toEqual({
      "app.kubernetes.io/name": "wharf-cmd-worker",
      "app.kubernetes.io/managed-by": "wharf-cmd-provisioner",
      "wharf.iver.com/instance": "prod",
      "wharf.iver.com/build-ref": "42",
      "wharf.iver.com/project-id": "7",
      "wharf.iver.com/worker-id": "0192f0c4-7a1e-7000-8000-000000000001",
      "wharf.iver.com/grpc-port": "5010",
    });
  });

  it("runs non-root under the runtime's seccomp profile, without privilege escalation or capabilities", () => {
    const pod = workerPod(input());
    expect(pod.spec?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      seccompProfile: { type: "RuntimeDefault" },
    });
    for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])])
      expect(c.securityContext, c.name).toEqual({
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
  });

  it("gives the worker the build's env, the cloned source and the downward-API pod identity, but not the token", () => {
    const pod = workerPod(input());
    const worker = pod.spec!.containers[0]!;
    const env = envOf(worker);
    expect(env).toMatchObject({
      WHARF_BUILD_REF: "42",
      VARS: '{"a":"1"}',
      WHARF_EXECUTOR: "kubernetes",
      WHARF_SOURCE_DIR: WORKER_SOURCE_DIR,
      WHARF_WORKER_PORT: "5010",
      WHARF_WORKER_HTTP_PORT: "5011",
      WHARF_WORKER_HOST: "0.0.0.0",
    });
    expect(env.GIT_TOKEN).toBeUndefined();
    const fields = Object.fromEntries(
      (worker.env ?? []).filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(fields).toEqual({
      WHARF_POD_NAME: "metadata.name",
      WHARF_POD_UID: "metadata.uid",
      WHARF_K8S_NAMESPACE: "metadata.namespace",
      WHARF_WORKER_TOKEN: undefined,
    });
    expect(worker.env).toContainEqual({
      name: "WHARF_WORKER_TOKEN",
      valueFrom: { secretKeyRef: { name: "wharf-worker-secret-0192f0c4", key: "worker-token" } },
    });
    expect(worker.ports?.map((p) => p.containerPort)).toEqual([5010, 5011]);
    const clone = pod.spec!.initContainers![0]!;
    expect(envOf(clone)).toMatchObject({
      GIT_FULLURL: "https://git.example/group/repo.git",
      GIT_BRANCH: "main",
    });
    // The tokens are read from the worker's Secret, each by its own container: neither is in the spec.
    expect(clone.env).toContainEqual({
      name: "GIT_TOKEN",
      valueFrom: { secretKeyRef: { name: "wharf-worker-secret-0192f0c4", key: "git-token" } },
    });
    expect(clone.env?.map((e) => e.name)).not.toContain("WHARF_WORKER_TOKEN");
    expect(JSON.stringify(pod)).not.toContain("s3cret");
    expect(JSON.stringify(pod)).not.toContain("w0rker-t0ken");
    // Clone and worker share the source volume.
    expect(clone.volumeMounts?.[0]?.name).toBe("source");
    expect(worker.volumeMounts?.map((m) => m.name)).toContain("source");
  });

  it("mounts an SSH key secret read-only into the clone container only", () => {
    const pod = workerPod(input({ git: { url: "git@git.example:g/r.git", sshKeySecret: "deploy-key" } }));
    expect(() => new Pod(JSON.parse(JSON.stringify(pod))).validate()).not.toThrow();
    expect(pod.spec?.volumes).toContainEqual({
      name: "git-ssh",
      secret: { secretName: "deploy-key", defaultMode: 0o400 },
    });
    expect(pod.spec!.initContainers![0]!.volumeMounts).toContainEqual({
      name: "git-ssh",
      mountPath: "/wharf/git-ssh",
      readOnly: true,
    });
    expect(pod.spec!.containers[0]!.volumeMounts?.map((m) => m.name)).not.toContain("git-ssh");
  });

  it("applies namespace, service account, resources, node selector, tolerations and a label-safe instance", () => {
    const pod = workerPod(
      input({
        instance: "feature/x y",
        namespace: "builds",
        serviceAccountName: "wharf-worker",
        resources: { requests: { cpu: "250m" }, limits: { memory: "1Gi" } },
        nodeSelector: { pool: "ci" },
        tolerations: [{ key: "ci", operator: "Exists", effect: "NoSchedule" }],
        command: ["node", "main.js"],
      }),
    );
    expect(() => new Pod(JSON.parse(JSON.stringify(pod))).validate()).not.toThrow();
    expect(pod.metadata?.namespace).toBe("builds");
    expect(pod.spec?.serviceAccountName).toBe("wharf-worker");
    expect(pod.spec?.automountServiceAccountToken).toBe(true);
    expect(pod.spec?.nodeSelector).toEqual({ pool: "ci" });
    expect(pod.spec?.tolerations).toHaveLength(1);
    expect(pod.spec!.containers[0]!.resources?.limits).toEqual({ memory: "1Gi" });
    expect(pod.spec!.containers[0]!.command).toEqual(["node", "main.js"]);
    expect(pod.metadata!.labels!["wharf.iver.com/build-ref"]).toBe("42");
    const instance = pod.metadata!.labels!["wharf.iver.com/instance"]!;
    expect(labelValue(instance)).toBe(instance);
    expect(pod.metadata?.generateName).toMatch(/^[a-z0-9-]+-$/);
  });
});

describe("the clone script", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it("clones the branch of a repository with sh and git, as the init container does", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), "wharf-clone-"));
    dirs.push(root);
    const origin = path.join(root, "origin");
    await fs.mkdir(origin);
    const git = (...args: string[]) =>
      run("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: origin });
    await git("init", "-q", "-b", "main");
    await fs.writeFile(path.join(origin, ".wharf-ci.yml"), "build: {}\n");
    await git("add", ".");
    await git("commit", "-q", "-m", "one");
    await git("checkout", "-q", "-b", "other");
    await fs.writeFile(path.join(origin, "other.txt"), "x\n");
    await git("add", ".");
    await git("commit", "-q", "-m", "two");
    // The script's container paths, moved under the temp dir (as the fake kubelet does).
    const script = CLONE_SCRIPT.replaceAll("/wharf/", `${root}/wharf/`);
    await fs.mkdir(path.join(root, "wharf/source"), { recursive: true });
    // A `git` first on PATH writes down its command line (what `ps` shows the node's users).
    const shim = path.join(root, "shim");
    await fs.mkdir(shim);
    const realGit = (await run("sh", ["-c", "command -v git"])).stdout.trim();
    await fs.writeFile(
      path.join(shim, "git"),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> ${root}/argv.txt\nexec ${realGit} "$@"\n`,
      { mode: 0o755 },
    );
    const { stdout } = await run("/bin/sh", ["-c", script], {
      env: {
        PATH: `${shim}:${process.env.PATH}`,
        GIT_FULLURL: `file://${origin}`,
        GIT_BRANCH: "main",
        GIT_TOKEN: "t",
      },
    });
    expect(stdout).toContain("cloned into");
    const argv = await fs.readFile(path.join(root, "argv.txt"), "utf8");
    expect(argv).toContain("clone");
    expect(argv).not.toContain(Buffer.from("oauth2:t").toString("base64"));
    expect(argv).not.toContain("extraHeader");
    const cloned = path.join(root, "wharf/source/repo");
    expect(await fs.readFile(path.join(cloned, ".wharf-ci.yml"), "utf8")).toBe("build: {}\n");
    await expect(fs.stat(path.join(cloned, "other.txt"))).rejects.toThrow();
    // The token never lands in the clone's config.
    expect(await fs.readFile(path.join(cloned, ".git/config"), "utf8")).not.toContain("oauth2");
  });
});
