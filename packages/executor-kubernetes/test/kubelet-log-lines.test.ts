import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { KubeletLogLines } from "../src/kubelet-log-lines.js";
import { readAll } from "./kube-harness.js";

const TS = "2021-01-13T14:05:09.123456789Z ";

/** The body through KubeletLogLines, fed in pieces of `size` bytes. */
async function filtered(body: string, size: number): Promise<string> {
  const bytes = Buffer.from(body);
  const pieces: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, i + size));
  return readAll(Readable.from(pieces).pipe(new KubeletLogLines()));
}

describe("KubeletLogLines", () => {
  const long = "y".repeat(70_000);
  const cases: [string, string, string][] = [
    ["timestamped lines, prefix stripped", `${TS}one\n${TS}two words\n`, "one\ntwo words\n"],
    ["empty lines", `${TS}\n${TS}\n`, "\n\n"],
    [
      "the kubelet's NotFound after the last line",
      `${TS}started\nrpc error: code = NotFound desc = an error occurred when try to find container "abc": not found`,
      "started\n",
    ],
    [
      "the kubelet's 'unable to retrieve' as the whole body",
      "unable to retrieve container logs for containerd://abc",
      "",
    ],
    ["a kubelet line between lines", `${TS}a\nsome kubelet text\n${TS}b\n`, "a\nb\n"],
    [
      "a step printing kubelet-like text",
      `${TS}rpc error: code = NotFound desc = x\n`,
      "rpc error: code = NotFound desc = x\n",
    ],
    ["a last line without newline", `${TS}a\n${TS}tail`, "a\ntail"],
    [
      "other offsets and fraction lengths",
      "2021-01-13T14:05:09+02:00 a\n2021-01-13T14:05:09.5-07:00 b\n",
      "a\nb\n",
    ],
    ["a line longer than any buffer", `${TS}${long}\n${TS}after\n`, `${long}\nafter\n`],
    ["a short unstamped fragment at the end", `${TS}a\nrpc`, "a\n"],
    ["a timestamp without its space", `${TS}a\n2021-01-13T14:05:09Z\n`, "a\n"],
  ];
  for (const [name, body, expected] of cases) {
    it(name, async () => {
      for (const size of [1, 2, 7, 31, 36, 37, 4096, body.length || 1]) {
        expect(await filtered(body, size)).toBe(expected);
      }
    });
  }
});
