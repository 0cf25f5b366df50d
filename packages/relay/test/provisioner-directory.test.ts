import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@wharf/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProvisionerDirectory } from "../src/index.js";

// The provisioner's worker list is JSON from another process: its build ids are checked where
// they come in, so a row the relay could never report to wharf-api is left out, not NaN.
let server: http.Server;
let url = "";
let missingBody: unknown;

const worker = (workerId: string, buildRef: unknown) => ({
  workerId,
  buildRef,
  status: "Running",
  address: "127.0.0.1:1",
  createdAt: "2026-12-03T23:00:00.000Z",
});

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.method === "POST") {
        missingBody = JSON.parse(body);
        res.end(JSON.stringify({ results: [{ buildRef: 41, live: false, reason: "finished" }] }));
        return;
      }
      // A row stored before the provisioner checked ids (0), and values no provisioner sends.
      res.end(
        JSON.stringify([
          worker("w-41", 41),
          worker("w-0", 0),
          worker("w-text", "42"),
          worker("w-neg", -1),
          worker("w-float", 1.5),
        ]),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe("ProvisionerDirectory", () => {
  it("lists the workers whose build id is wharf-api's and tells once of each other one", async () => {
    const told: [Record<string, unknown>, string][] = [];
    const log = {
      warn: (obj: Record<string, unknown>, msg: string) => told.push([obj, msg]),
    } as unknown as Logger;
    const dir = new ProvisionerDirectory({ url, log });
    const listed = await dir.list();
    expect(listed).toEqual([
      {
        workerId: "w-41",
        buildId: 41,
        address: "127.0.0.1:1",
        status: "running",
        triggeredAt: Date.parse("2026-12-03T23:00:00.000Z"),
      },
    ]);
    // The string "42" too: the provisioner's schema says a number, so text is a broken provisioner.
    expect(told.map(([o]) => o.workerId)).toEqual(["w-0", "w-text", "w-neg", "w-float"]);
    expect(told[0]?.[0].err).toMatch(/^the provisioner's buildRef must be a wharf-api build id .*got "0"$/);
    expect(told[1]?.[0].err).toMatch(/got the text "42"$/);
    await dir.list();
    expect(told).toHaveLength(4);
  });

  it("asks which builds it started by their ids, under the provisioner's JSON name", async () => {
    const dir = new ProvisionerDirectory({ url });
    expect(await dir.startedBuilds([41, 43])).toEqual(new Set([41]));
    expect(missingBody).toEqual({ buildRefs: [41, 43] });
  });
});
