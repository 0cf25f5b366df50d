import fs from "node:fs/promises";
import path from "node:path";
import { type ProjectSecrets, projectSecretName } from "@wharf/executor";

/**
 * A Secret of the worker's secrets directory is missing, unreadable or lacks a key the step
 * names: no retry can mend that, the operator has to add it (see StepStartError's `permanent`).
 */
export class HostSecretError extends Error {
  override readonly name = "HostSecretError";
  readonly permanent = true;
}

/** Who owns the project Secrets a step's `secretName` names (WHARF_INSTANCE, WHARF_PROJECT_ID). */
// A Kubernetes Secret's name (a DNS subdomain): also keeps a name from leaving the directory.
const SECRET_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
// A Secret's key: what Kubernetes allows (no "/", so a key is one file of the Secret's directory).
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * The docker executor's stand-in for Kubernetes Secrets: a directory on the worker
 * (WHARF_SECRETS_DIR) with one subdirectory per Secret and one file per key, the layout of a
 * Secret mounted as a volume (so a mounted Secret, `..data` links and all, works as is).
 * A file holds the value exactly as a Secret volume would, trailing newline included.
 * Names starting with "." are not keys (Kubernetes' own `..data` entries).
 */
export class HostSecrets {
  constructor(
    readonly dir: string,
    private readonly project: ProjectSecrets = {},
  ) {}

  /**
   * The Secret a step's `secretName` names, as wharf-cmd names it
   * (`wharf-<instance>-project-<id>-secretname-<name>`) when the build's instance and project
   * are known, else the name as written: every key and its value.
   */
  projectSecret(secretName: string): Promise<Record<string, string>> {
    return this.read(projectSecretName(this.project, secretName));
  }

  /** Every key of the Secret `name`; throws HostSecretError when it is not there. */
  async read(name: string): Promise<Record<string, string>> {
    const values = await this.readIfPresent(name);
    if (!values) throw new HostSecretError(`secret "${name}" is not in the worker's secrets directory`);
    return values;
  }

  /** Every key of the Secret `name`, or undefined when the directory has no such Secret. */
  async readIfPresent(name: string): Promise<Record<string, string> | undefined> {
    if (!SECRET_NAME.test(name))
      throw new HostSecretError(`"${name}" is not a valid secret name (lower-case DNS subdomain)`);
    const dir = path.join(this.dir, name);
    let entries: string[];
    try {
      entries = await fs.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new HostSecretError(`secret "${name}" cannot be read: ${(err as NodeJS.ErrnoException).code}`);
    }
    const values: Record<string, string> = {};
    for (const key of entries.sort()) {
      if (key.startsWith(".") && key !== ".dockerconfigjson") continue;
      if (!SECRET_KEY.test(key)) continue;
      const file = path.join(dir, key);
      // stat follows the links of a mounted Secret (key → ..data/key).
      const stat = await fs.stat(file).catch(() => undefined);
      if (!stat?.isFile()) continue;
      try {
        values[key] = await fs.readFile(file, "utf8");
      } catch (err) {
        // The error names the file only: never its content.
        throw new HostSecretError(
          `key "${key}" of secret "${name}" cannot be read: ${(err as NodeJS.ErrnoException).code}`,
        );
      }
    }
    return values;
  }
}
