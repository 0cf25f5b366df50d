import type Docker from "dockerode";
import type { JanitorObject } from "./janitor-select.js";

/**
 * Podman's build cache, trimmed to a budget. Podman 4.3's Docker API has no `/build/prune`
 * (404) and no BuildKit cache: what its builds leave are images — each instruction's
 * intermediate image, and the previous image of a tag that a rebuild moved. Of those, only
 * untagged images that no tagged image descends from free disk when removed (an intermediate
 * image of a tagged one shares its layers with it: removing it frees nothing and loses the
 * layer cache of the next build). Those are the cache here; its size is each image's own
 * layer (its size less its parent's). Above the budget, the oldest chain goes first: its leaf
 * is removed, and the engine removes with it the untagged parents nothing else descends from.
 */

interface Node {
  id: string;
  /** The id as the engine lists it (`sha256:…`): Podman refuses a bare 64-digit hex id. */
  ref: string;
  parent?: string;
  created: number;
  size: number;
  tagged: boolean;
  labels: Record<string, string>;
  children: number;
}

const bare = (id: string | undefined) => (id ?? "").replace(/^sha256:/, "");

function graph(images: Docker.ImageInfo[]): Map<string, Node> {
  const nodes = new Map<string, Node>();
  for (const i of images) {
    const tags = (i.RepoTags ?? []).filter((t) => t !== "<none>:<none>");
    nodes.set(bare(i.Id), {
      id: bare(i.Id),
      ref: i.Id,
      ...(bare(i.ParentId) ? { parent: bare(i.ParentId) } : {}),
      created: i.Created,
      size: Math.max(0, i.Size ?? 0),
      tagged: tags.length > 0,
      labels: i.Labels ?? {},
      children: 0,
    });
  }
  for (const n of nodes.values()) {
    const parent = n.parent ? nodes.get(n.parent) : undefined;
    if (parent) parent.children++;
  }
  return nodes;
}

/** An image's own bytes: its size less its parent's (all of it when the parent is not listed). */
function ownBytes(nodes: Map<string, Node>, n: Node): number {
  const parent = n.parent ? nodes.get(n.parent) : undefined;
  return parent ? Math.max(0, n.size - parent.size) : n.size;
}

/**
 * The images to remove, leaves oldest first, each with the bytes it frees with its parents:
 * until the cache (untagged images with no tagged descendant, carrying `labels`, not labelled
 * `keep`) is within `budget`.
 */
export function selectImageCache(
  images: Docker.ImageInfo[],
  budget: number,
  labels: Record<string, string>,
): JanitorObject[] {
  const nodes = graph(images);
  // Everything a tagged image descends from is its layers, not cache.
  const held = new Set<string>();
  for (const n of nodes.values()) {
    if (!n.tagged) continue;
    for (let p = n.parent; p && !held.has(p); p = nodes.get(p)?.parent) held.add(p);
  }
  const isCache = (n: Node) =>
    !n.tagged &&
    !held.has(n.id) &&
    !("keep" in n.labels) &&
    Object.entries(labels).every(([k, v]) => n.labels[k] === v);
  const cache = [...nodes.values()].filter(isCache);
  let total = cache.reduce((sum, n) => sum + ownBytes(nodes, n), 0);
  const picked: JanitorObject[] = [];
  // A removed image's children count is -1: it is no leaf any more.
  const leaves = () => cache.filter((n) => n.children === 0).sort((a, b) => a.created - b.created);
  for (let leaf = leaves()[0]; leaf && total > budget; leaf = leaves()[0]) {
    // The leaf, then each parent left without children that is cache too: the engine removes those with it.
    let bytes = 0;
    for (let n: Node | undefined = leaf; n && isCache(n); ) {
      bytes += ownBytes(nodes, n);
      const parent: Node | undefined = n.parent ? nodes.get(n.parent) : undefined;
      n.children = -1; // gone
      if (parent) parent.children--;
      n = parent && parent.children === 0 ? parent : undefined;
    }
    picked.push({ kind: "image", id: leaf.ref, bytes });
    total -= bytes;
  }
  return picked;
}

/** Lists every image (intermediate ones too) and picks what `selectImageCache` would remove. */
export async function podmanImageCache(
  docker: Docker,
  budget: number,
  labels: Record<string, string>,
): Promise<JanitorObject[]> {
  return selectImageCache(await docker.listImages({ all: true }), budget, labels);
}
