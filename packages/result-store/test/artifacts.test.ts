import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { ArtifactNotFoundError, ResultStore, ResultStoreError } from "../src/index.js";
import { collect, tempDir, track } from "./store-fixture.js";

describe("ResultStore artifacts", () => {
  it("copies files in with size and sha256, in dense id order, byte-identical", async () => {
    const src = await tempDir();
    const files = [randomBytes(300_000), Buffer.alloc(0), randomBytes(70_000)];
    const paths = await Promise.all(
      files.map(async (bytes, i) => {
        const p = path.join(src, `f${i}.bin`);
        await fs.writeFile(p, bytes);
        return p;
      }),
    );
    const dir = await tempDir();
    const store = track(await ResultStore.open(dir));
    const live = collect(store.followArtifacts(0));
    // Concurrent copies still get ids 1..3 and events in id order.
    const events = await Promise.all(paths.map((p, i) => store.addArtifact(1, `out/f${i}.bin`, p)));
    expect(events.map((e) => e.artifactId).sort()).toEqual([1, 2, 3]);
    for (const [i, e] of events.entries()) {
      expect(e.size).toBe(files[i]!.length);
      expect(e.sha256).toBe(createHash("sha256").update(files[i]!).digest("hex"));
      expect((await buffer(store.openArtifact(e.artifactId))).equals(files[i]!)).toBe(true);
    }
    await store.finish("SUCCESS");
    expect((await live).map((e) => e.artifactId)).toEqual([1, 2, 3]);
    expect(store.summary().lastArtifactId).toBe(3);
    expect((await collect(store.followArtifacts(2))).map((e) => e.name)).toEqual([
      events.find((e) => e.artifactId === 3)!.name,
    ]);
  });

  it("throws NotFound for unknown ids and a typed error with cause for a missing source", async () => {
    const store = track(await ResultStore.open(await tempDir()));
    expect(() => store.openArtifact(1)).toThrow(ArtifactNotFoundError);
    expect(() => store.openArtifact(0)).toThrow(ArtifactNotFoundError);
    const err = await store.addArtifact(1, "nope", "/nonexistent/file").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResultStoreError);
    expect(((err as Error).cause as NodeJS.ErrnoException).code).toBe("ENOENT");
    expect(store.summary().lastArtifactId).toBe(0);
    await expect(store.addArtifact(1, "", "/etc/hostname")).rejects.toThrow(ResultStoreError);
  });
});
