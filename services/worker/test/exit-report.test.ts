import { decodeWorkerExitReport, encodeWorkerExitReport, TERMINATION_MESSAGE_LIMIT } from "@wharf/proto";
import { describe, expect, it } from "vitest";

describe("the worker's exit report (its Kubernetes termination message)", () => {
  it("round-trips a build's result", () => {
    const text = encodeWorkerExitReport({ status: "Failed", message: 'step "test" exited with code 3' });
    expect(decodeWorkerExitReport(text)).toEqual({
      status: "Failed",
      message: 'step "test" exited with code 3',
    });
  });

  it("cuts a long message (on characters) to what the kubelet keeps", () => {
    const text = encodeWorkerExitReport({ status: "Success", message: "ü".repeat(5000) });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(TERMINATION_MESSAGE_LIMIT);
    const decoded = decodeWorkerExitReport(text)!;
    expect(decoded.status).toBe("Success");
    expect(decoded.message).toMatch(/^ü+$/);
    expect(decoded.message.length).toBeGreaterThan(1500);
  });

  it("reads nothing from an empty, foreign or malformed message", () => {
    for (const text of [undefined, "", "Error: out of memory", '{"status":"Running"}', "{"]) {
      expect(decodeWorkerExitReport(text)).toBeUndefined();
    }
  });
});
