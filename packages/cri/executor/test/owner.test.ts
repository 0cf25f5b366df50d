import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { ownerAlive, ownerValue, processStart } from "../src/owner.js";

describe("sandbox owners (host, PID namespace, pid, start time)", () => {
  it("names this process with its host and PID namespace, and knows it alive", async () => {
    const value = await ownerValue();
    expect(value).toMatch(/^[^/@]+@\d+\/\d+\/\d+$/);
    expect(value.split("/")[1]).toBe(String(process.pid));
    expect(await ownerAlive(value)).toBe(true);
  });

  it("knows a process of this namespace that ended dead, and never judges another namespace's or host's", async () => {
    const child = spawn("sleep", ["600"], { stdio: "ignore" });
    await once(child, "spawn");
    const pid = child.pid as number;
    const start = await processStart(pid);
    const scope = (await ownerValue()).split("/")[0] as string;
    const value = `${scope}/${pid}/${start}`;
    expect(await ownerAlive(value)).toBe(true);
    child.kill("SIGKILL");
    await once(child, "exit");
    expect(await ownerAlive(value)).toBe(false);
    // The same pid and start seen from another PID namespace, or another host: not ours to judge.
    const [host, ns] = scope.split("@") as [string, string];
    expect(await ownerAlive(`${host}@${Number(ns) + 1}/${pid}/${start}`)).toBe(true);
    expect(await ownerAlive(`${host}/${pid}/${start}`)).toBe(true);
    expect(await ownerAlive(`other-host@${ns}/${pid}/${start}`)).toBe(true);
    expect(await ownerAlive("garbage")).toBe(true);
    expect(await ownerAlive(undefined)).toBe(true);
  });
});
