import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { selectImageCache } from "../src/podman-image-cache.js";

/** An image as Podman's Docker API lists it (`all=true`): parent ids are bare hex there. */
const image = (
  id: string,
  parent: string | undefined,
  size: number,
  created: number,
  extra: { tag?: string; labels?: Record<string, string> } = {},
): Docker.ImageInfo =>
  ({
    Id: `sha256:${id}`,
    ParentId: parent ?? "",
    Size: size,
    Created: created,
    RepoTags: extra.tag ? [extra.tag] : null,
    Labels: extra.labels ?? {},
  }) as unknown as Docker.ImageInfo;

// base (tagged) ← a1 ← a2 (old chain of app:x), base ← b1 ← b2 (app:x now), base ← k (keep, untagged).
const images = [
  image("base", undefined, 1000, 1, { tag: "busybox:1" }),
  image("a1", "base", 1100, 2),
  image("a2", "a1", 1600, 3),
  image("b1", "base", 1100, 4),
  image("b2", "b1", 1700, 5, { tag: "app:x" }),
  image("k", "base", 1900, 6, { labels: { keep: "true" } }),
];

describe("Podman's build cache as images", () => {
  it("is the untagged chains no tagged image descends from, removed leaf first with the bytes of the chain", () => {
    expect(selectImageCache(images, 0, {})).toEqual([{ kind: "image", id: "sha256:a2", bytes: 600 }]);
    // Within budget: nothing; the keep-labelled image and the tagged image's parent b1 never count.
    expect(selectImageCache(images, 600, {})).toEqual([]);
  });

  it("takes the oldest chains first until the rest fits, and only images carrying the labels asked for", () => {
    const more = [...images, image("c1", "base", 1300, 7, { labels: { run: "r" } })];
    expect(selectImageCache(more, 300, {}).map((o) => o.id)).toEqual(["sha256:a2"]);
    expect(selectImageCache(more, 0, {}).map((o) => o.id)).toEqual(["sha256:a2", "sha256:c1"]);
    expect(selectImageCache(more, 0, { run: "r" })).toEqual([{ kind: "image", id: "sha256:c1", bytes: 300 }]);
  });
});
