import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import type { KubeObject, ObjectStore } from "./object-store.js";

/** A container cannot be configured (missing secret/configmap key): kubelet's CreateContainerConfigError. */
export class ContainerConfigError extends Error {
  override readonly name = "ContainerConfigError";
}

/** A pod volume cannot be set up yet (missing PVC): the pod stays Pending. */
export class VolumeError extends Error {
  override readonly name = "VolumeError";
}

interface Mount {
  mountPath: string;
  hostDir: string;
}

// biome-ignore lint/suspicious/noExplicitAny: container specs are open JSON
type Container = Record<string, any>;

const terminationMessagePath = (c: Container): string =>
  String(c.terminationMessagePath ?? "/dev/termination-log").replace(/\/+$/, "");

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Where a PVC's data lives on the host; the fake's "storage provisioner". */
export function pvcHostDir(rootDir: string, pvc: KubeObject): string {
  return path.join(rootDir, "pvc", pvc.metadata.namespace!, `${pvc.metadata.name}-${pvc.metadata.uid}`);
}

/**
 * A pod's stand-in for a container sandbox on the host. Containers run as host processes,
 * so each volume is a host directory and every occurrence of a volume's mountPath in a
 * container's command, args, env values and workingDir is rewritten to that directory.
 * That rewrite is the one place the fake differs visibly from a real kubelet: a step that
 * prints its mount path sees the host directory.
 */
export class PodSandbox {
  private readonly volumeDirs = new Map<string, string>();
  readonly podDir: string;

  constructor(
    private readonly pod: KubeObject,
    private readonly rootDir: string,
    private readonly store: ObjectStore,
  ) {
    this.podDir = path.join(rootDir, "pods", pod.metadata.uid!);
  }

  /** Creates a host directory per volume; throws VolumeError if a claimed PVC does not exist. */
  async prepare(): Promise<void> {
    await fs.mkdir(path.join(this.podDir, "home"), { recursive: true });
    const ns = this.pod.metadata.namespace!;
    for (const volume of this.pod.spec.volumes ?? []) {
      let dir: string;
      if (volume.persistentVolumeClaim) {
        const pvc = this.store.get("persistentvolumeclaims", ns, volume.persistentVolumeClaim.claimName);
        if (!pvc) {
          throw new VolumeError(
            `persistentvolumeclaim "${volume.persistentVolumeClaim.claimName}" not found`,
          );
        }
        dir = pvcHostDir(this.rootDir, pvc);
      } else if (volume.hostPath) {
        dir = volume.hostPath.path;
      } else {
        dir = path.join(this.podDir, "volumes", volume.name);
        const source = volume.secret
          ? this.store.get("secrets", ns, volume.secret.secretName)
          : volume.configMap
            ? this.store.get("configmaps", ns, volume.configMap.name)
            : undefined;
        if ((volume.secret || volume.configMap) && !source && !(volume.secret ?? volume.configMap).optional) {
          throw new VolumeError(
            `${volume.secret ? "secret" : "configmap"} of volume "${volume.name}" not found`,
          );
        }
        await fs.mkdir(dir, { recursive: true });
        for (const [file, value] of Object.entries<string>(source?.data ?? {})) {
          await fs.writeFile(path.join(dir, file), volume.secret ? Buffer.from(value, "base64") : value);
        }
      }
      await fs.mkdir(dir, { recursive: true });
      this.volumeDirs.set(volume.name, dir);
    }
    // The kubelet creates a mount's missing subPath directory inside its volume.
    for (const c of [...(this.pod.spec.initContainers ?? []), ...(this.pod.spec.containers ?? [])]) {
      for (const m of this.mounts(c)) {
        if (m.hostDir === this.terminationFile(c)) continue;
        await fs.mkdir(m.hostDir, { recursive: true });
      }
      await fs.mkdir(path.dirname(this.terminationFile(c)), { recursive: true });
    }
  }

  private mounts(container: Container): Mount[] {
    return (container.volumeMounts ?? [])
      .map((m: { name: string; mountPath: string; subPath?: string }) => {
        const base = this.volumeDirs.get(m.name);
        if (!base) throw new ContainerConfigError(`volume "${m.name}" is not defined in the pod`);
        return {
          mountPath: m.mountPath.replace(/\/+$/, ""),
          hostDir: m.subPath ? path.join(base, m.subPath) : base,
        };
      })
      .concat([{ mountPath: terminationMessagePath(container), hostDir: this.terminationFile(container) }])
      .sort((a: Mount, b: Mount) => b.mountPath.length - a.mountPath.length);
  }

  /** The host file behind the container's termination message path (the kubelet mounts one per container). */
  private terminationFile(container: Container): string {
    return path.join(this.podDir, "termination", container.name);
  }

  /** What the container wrote to its termination message path, at most the kubelet's 4096 bytes. */
  async terminationMessage(container: Container): Promise<string | undefined> {
    const text = await fs.readFile(this.terminationFile(container)).catch(() => undefined);
    return text?.length ? text.subarray(0, 4096).toString() : undefined;
  }

  /** Rewrites container paths under a mountPath to the host directory behind it. */
  translate(container: Container, text: string): string {
    let out = text;
    for (const m of this.mounts(container)) {
      out = out.replace(new RegExp(`${escapeRegExp(m.mountPath)}(?=/|$|[\\s'";:)])`, "g"), m.hostDir);
    }
    return out;
  }

  private fieldRef(fieldPath: string): string {
    const meta = this.pod.metadata;
    const labelMatch = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (labelMatch) return meta[labelMatch[1]!]?.[labelMatch[2]!] ?? "";
    const values: Record<string, string | undefined> = {
      "metadata.name": meta.name,
      "metadata.namespace": meta.namespace,
      "metadata.uid": meta.uid,
      "spec.nodeName": this.pod.spec.nodeName,
      "spec.serviceAccountName": this.pod.spec.serviceAccountName,
      "status.podIP": "127.0.0.1",
      "status.hostIP": "127.0.0.1",
    };
    if (!(fieldPath in values)) throw new ContainerConfigError(`unsupported fieldRef "${fieldPath}"`);
    return values[fieldPath] ?? "";
  }

  private keyRef(kind: "secrets" | "configmaps", ref: { name: string; key: string; optional?: boolean }) {
    const source = this.store.get(kind, this.pod.metadata.namespace!, ref.name);
    const raw = source?.data?.[ref.key];
    if (raw === undefined) {
      if (ref.optional) return undefined;
      const what = kind === "secrets" ? "secret" : "configmap";
      throw new ContainerConfigError(
        source ? `couldn't find key ${ref.key} in ${what} ${ref.name}` : `${what} "${ref.name}" not found`,
      );
    }
    return kind === "secrets" ? Buffer.from(raw, "base64").toString() : String(raw);
  }

  /** The container's environment; throws ContainerConfigError like the kubelet does. */
  environment(container: Container): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: path.join(this.podDir, "home"),
      HOSTNAME: this.pod.metadata.name!,
    };
    for (const from of container.envFrom ?? []) {
      const kind = from.secretRef ? "secrets" : "configmaps";
      const ref = from.secretRef ?? from.configMapRef;
      const source = this.store.get(kind, this.pod.metadata.namespace!, ref.name);
      if (!source) {
        if (ref.optional) continue;
        throw new ContainerConfigError(
          `${kind === "secrets" ? "secret" : "configmap"} "${ref.name}" not found`,
        );
      }
      for (const [k, v] of Object.entries<string>(source.data ?? {})) {
        env[`${from.prefix ?? ""}${k}`] = kind === "secrets" ? Buffer.from(v, "base64").toString() : v;
      }
    }
    for (const e of container.env ?? []) {
      const from = e.valueFrom;
      const value = from?.fieldRef
        ? this.fieldRef(from.fieldRef.fieldPath)
        : from?.secretKeyRef
          ? this.keyRef("secrets", from.secretKeyRef)
          : from?.configMapKeyRef
            ? this.keyRef("configmaps", from.configMapKeyRef)
            : (e.value ?? "");
      if (value !== undefined) env[e.name] = this.translate(container, value);
    }
    return env;
  }

  /** Starts `argv` inside the container's "sandbox": its env, mounts and working directory. */
  spawn(container: Container, argv: string[]): ChildProcess {
    const env = this.environment(container);
    const [file, ...args] = argv.map((a) => this.translate(container, a));
    const cwd = container.workingDir
      ? this.translate(container, container.workingDir)
      : path.join(this.podDir, "home");
    // Own process group, so stopping a container also stops what its shell started.
    return spawn(file!, args, { cwd, env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  }

  async cleanup(): Promise<void> {
    await fs.rm(this.podDir, { recursive: true, force: true });
  }
}
