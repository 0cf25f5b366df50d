import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { shellQuote } from "./shell-quote.js";
import type { PodPlacement } from "./step-pod.js";
import { WORKSPACE_PATH } from "./step-run.js";

/**
 * The store of step caches (`cache:`) on Kubernetes: one claim per namespace, held by one
 * long-lived pod, through which workers read and write generations with tar over pods/exec.
 * One holder rather than a claim mounted by each build: a ReadWriteOnce claim attaches to one
 * node at a time, and builds of a project run on any node at once.
 *
 * Layout, as the local executor's directory: `<key>/<generation>/{meta.json,used,files/...}`.
 * A save extracts into `.staging/<generation>` and publishes it with one rename into its key's
 * directory; eviction renames a generation into `.trash/` before removing it. So a generation
 * is seen whole or not at all, and never changes once published (`used` aside: the last use,
 * epoch ms, for LRU eviction).
 *
 * Both sides of that file contract are here, as pure builders of the claim, the pod and the
 * shell commands run in it (POSIX sh and busybox tools).
 */

/** Where the store's claim is mounted in its holder pod. */
export const CACHE_STORE_PATH = "/wharf-step-cache";
export const CACHE_STORE_CONTAINER = "store";
/** The default name of the store's claim and of its holder pod. */
export const DEFAULT_CACHE_STORE_NAME = "wharf-step-cache";
/** Exit code of a read whose generation was evicted before or while it was read. */
export const CACHE_GENERATION_GONE = 86;

const CACHE_STORE_LABELS = {
  "app.kubernetes.io/name": "wharf",
  "app.kubernetes.io/component": "step-cache",
};

export interface CacheStoreInput extends Omit<PodPlacement, "resources"> {
  name: string;
  size: string;
  storageClassName?: string;
  image: string;
}

/** The store's claim: no owner, it outlives every build and worker. */
export function cacheStoreClaim(input: CacheStoreInput): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: input.name, labels: { ...CACHE_STORE_LABELS } },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: input.storageClassName,
      resources: { requests: { storage: input.size } },
    },
  };
}

/** The pod holding the store's claim; idle (a sleeping shell) but for the workers' execs. */
export function cacheStorePod(input: CacheStoreInput): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: input.name, labels: { ...CACHE_STORE_LABELS } },
    spec: {
      restartPolicy: "Always",
      enableServiceLinks: false,
      automountServiceAccountToken: false,
      containers: [
        {
          name: CACHE_STORE_CONTAINER,
          image: input.image,
          imagePullPolicy: "IfNotPresent",
          command: ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while true; do sleep 1; done"],
          workingDir: CACHE_STORE_PATH,
          volumeMounts: [{ name: "store", mountPath: CACHE_STORE_PATH }],
          resources: { requests: { cpu: "10m", memory: "16Mi" } },
        },
      ],
      volumes: [{ name: "store", persistentVolumeClaim: { claimName: input.name } }],
      nodeSelector: input.nodeSelector,
      tolerations: input.tolerations,
      terminationGracePeriodSeconds: 5,
    },
  };
}

const sh = (lines: string[]) => ["sh", "-c", lines.join("\n")];
const generationDir = (key: string, generation: string) =>
  `${CACHE_STORE_PATH}/${shellQuote(key)}/${shellQuote(generation)}`;

/**
 * Lists published generations, one line each: `<key>/<generation> <used ms> <meta.json>`, of
 * `keys` (all keys when absent), then `staging <generation>` for each save under way or dead.
 */
export function listCacheCommand(keys?: readonly string[]): string[] {
  const globs = keys ? keys.map((k) => `${shellQuote(k)}/*/meta.json`).join(" ") : "*/*/meta.json";
  return sh([
    `cd ${CACHE_STORE_PATH} || exit 1`,
    `for m in ${globs}; do`,
    '  [ -f "$m" ] || continue',
    '  d=$(dirname "$m")',
    '  printf \'%s %s %s\\n\' "$d" "$(cat "$d/used" 2>/dev/null || echo 0)" "$(cat "$m" 2>/dev/null)"',
    "done",
    ...(keys ? [] : ['for s in .staging/*; do [ -d "$s" ] && echo "staging $(basename "$s")"; done']),
    "exit 0",
  ]);
}

/**
 * Writes one generation's files to stdout as a tar (entries `./<path>`), and marks it used at
 * `nowMs`. Exits CACHE_GENERATION_GONE when the generation was evicted before or during the
 * read: eviction renames it away first, so if its meta file is still in place after the tar
 * ended, nothing of it was removed meanwhile.
 */
export function readCacheCommand(key: string, generation: string, nowMs: number): string[] {
  const d = generationDir(key, generation);
  return sh([
    `[ -f ${d}/meta.json ] || exit ${CACHE_GENERATION_GONE}`,
    `printf %s ${nowMs} > ${d}/used 2>/dev/null`,
    `tar -c -f - -C ${d}/files .; c=$?`,
    `[ -f ${d}/meta.json ] || exit ${CACHE_GENERATION_GONE}`,
    "exit $c",
  ]);
}

/**
 * Reads a tar of `size` bytes from stdin into a staging directory and publishes it as the
 * generation with one rename; on any failure the staging directory is removed.
 */
export function publishCacheCommand(
  key: string,
  generation: string,
  size: number,
  meta: object,
  nowMs: number,
): string[] {
  const s = `${CACHE_STORE_PATH}/.staging/${shellQuote(generation)}`;
  return sh([
    `s=${s}`,
    `{ mkdir -p "$s/files" && head -c ${size} | tar -x -f - -C "$s/files" &&`,
    `  printf %s ${shellQuote(JSON.stringify(meta))} > "$s/meta.json" && printf %s ${nowMs} > "$s/used" &&`,
    `  mkdir -p ${CACHE_STORE_PATH}/${shellQuote(key)} && mv "$s" ${generationDir(key, generation)}; } ||`,
    `  { c=$?; rm -rf "$s"; exit $c; }`,
  ]);
}

/**
 * Removes generations (`<key>/<generation>`, renamed into `.trash/` first, so no reader picks
 * one after), staging directories of saves that died, and what an earlier removal left in
 * `.trash/`. A generation another removal took first is skipped.
 */
export function evictCacheCommand(generations: readonly string[], deadStaging: readonly string[]): string[] {
  return sh([
    `cd ${CACHE_STORE_PATH} || exit 1`,
    "mkdir -p .trash",
    `for g in ${generations.map(shellQuote).join(" ")}; do`,
    '  t=".trash/$(basename "$g")-$$"',
    '  mv "$g" "$t" 2>/dev/null && rm -rf "$t"',
    "done",
    ...deadStaging.map((g) => `rm -rf .staging/${shellQuote(g)}`),
    "rm -rf .trash/* 2>/dev/null",
    "exit 0",
  ]);
}

/**
 * Writes the workspace paths the step left (of `paths`, relative) to stdout as one tar with
 * entries `./<path>`; writes nothing when it left none of them.
 */
export function packWorkspacePathsCommand(paths: readonly string[]): string[] {
  return sh([
    `cd ${WORKSPACE_PATH} || exit 1`,
    "set --",
    `for p in ${paths.map((p) => shellQuote(`./${p}`)).join(" ")}; do`,
    '  if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; fi',
    "done",
    "[ $# -eq 0 ] && exit 0",
    'exec tar -c -f - "$@"',
  ]);
}

/**
 * Reads a tar of `size` bytes (a generation's files) from stdin into a staging directory in the
 * workspace, then moves each of `paths` it holds into place: the step sees a path whole from
 * the cache or as it was, never half-restored.
 */
export function unpackIntoWorkspaceCommand(paths: readonly string[], size: number, token: string): string[] {
  const s = `${WORKSPACE_PATH}/.wharf-cache-restore-${shellQuote(token)}`;
  return sh([
    `s=${s}`,
    `{ mkdir -p "$s" && head -c ${size} | tar -x -f - -C "$s"; } || { c=$?; rm -rf "$s"; exit $c; }`,
    `for p in ${paths.map(shellQuote).join(" ")}; do`,
    '  [ -e "$s/$p" ] || [ -L "$s/$p" ] || continue',
    `  w=${WORKSPACE_PATH}/$p`,
    '  { rm -rf "$w" && mkdir -p "$(dirname "$w")" && mv "$s/$p" "$w"; } || { c=$?; rm -rf "$s"; exit $c; }',
    "done",
    'rm -rf "$s"',
  ]);
}
