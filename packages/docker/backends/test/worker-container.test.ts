import { workerTokenFor } from "@wharf/proto";
import { describe, expect, it } from "vitest";
import { workerContainerSpec } from "../src/index.js";

const spec = {
  workerId: "w-1",
  name: "wharf-worker-5-w-1",
  request: {
    buildId: 5,
    instance: "prod",
    projectId: 9,
    gitUrl: "https://git.example.invalid/r.git",
    runStages: "ALL",
    vars: { a: "1" },
  },
};

describe("workerContainerSpec", () => {
  it("labels the container, mounts the engine socket and passes the build as env", () => {
    const body = workerContainerSpec(
      spec,
      { image: "img", binds: ["/src:/src:ro"], workerToken: "t" },
      { grpc: 6000, http: 6001 },
    );
    expect(body.Labels).toEqual({
      "wharf.iver.com/instance": "prod",
      "wharf.iver.com/build-ref": "5",
      "wharf.iver.com/project-id": "9",
      "wharf.iver.com/worker-id": "w-1",
      "wharf.iver.com/grpc-port": "6000",
      "wharf.iver.com/component": "worker",
    });
    expect(body.HostConfig?.NetworkMode).toBe("host");
    expect(body.HostConfig?.Binds).toEqual(["/var/run/docker.sock:/var/run/docker.sock", "/src:/src:ro"]);
    // The wharf/worker image's own entrypoint and command run `wharf worker serve`.
    expect(body.Cmd).toBeUndefined();
    expect(body.HostConfig?.GroupAdd).toBeUndefined();
    expect(body.Env).toEqual(
      expect.arrayContaining([
        "WHARF_BUILD_REF=5",
        "WHARF_WORKER_ID=w-1",
        "GIT_FULLURL=https://git.example.invalid/r.git",
        'VARS={"a":"1"}',
        "WHARF_EXECUTOR=docker",
        "WHARF_WORKER_PORT=6000",
        "WHARF_WORKER_HTTP_PORT=6001",
        // The worker's own token, derived from the key ("t") and its id.
        `WHARF_WORKER_TOKEN=${workerTokenFor("t", "w-1")}`,
        // The default 15 s stop grace less a second to exit before SIGKILL.
        "WHARF_RELEASE_GRACE=14000ms",
      ]),
    );
    expect(body.ExposedPorts).toBeUndefined();
  });

  it("adds the engine socket's group, so the non-root worker image can run step containers", () => {
    const body = workerContainerSpec(
      spec,
      { image: "img", socketGroup: 998, cmd: ["node", "w.mjs"] },
      { grpc: 6000, http: 6001 },
    );
    expect(body.HostConfig?.GroupAdd).toEqual(["998"]);
    expect(body.Cmd).toEqual(["node", "w.mjs"]);
  });

  it("gives a cri worker the runtime's socket and the work root at their host paths, as root in the host's PID namespace", () => {
    const body = workerContainerSpec(
      spec,
      {
        image: "img",
        binds: ["/src:/src:ro"],
        socketGroup: 998,
        executor: "cri",
        cri: { endpoint: "unix:///run/containerd/containerd.sock", workRoot: "/srv/wharf-cri" },
      },
      { grpc: 6000, http: 6001 },
    );
    // No engine socket: the steps are the CRI runtime's.
    expect(body.HostConfig?.Binds).toEqual([
      "/run/containerd/containerd.sock:/run/containerd/containerd.sock",
      "/srv/wharf-cri:/srv/wharf-cri",
      "/src:/src:ro",
    ]);
    expect(body.User).toBe("0:0");
    expect(body.HostConfig).toMatchObject({ PidMode: "host", UTSMode: "host", NetworkMode: "host" });
    expect(body.HostConfig?.GroupAdd).toBeUndefined();
    expect(body.Env).toEqual(
      expect.arrayContaining([
        "WHARF_EXECUTOR=cri",
        "WHARF_CRI_ENDPOINT=unix:///run/containerd/containerd.sock",
        "WHARF_CRI_WORK_ROOT=/srv/wharf-cri",
      ]),
    );
    expect(body.Env?.some((e) => e.startsWith("DOCKER_HOST="))).toBe(false);
    expect(() =>
      workerContainerSpec(
        spec,
        { image: "img", executor: "cri", cri: { endpoint: "tcp://127.0.0.1:1", workRoot: "/w" } },
        { grpc: 6000, http: 6001 },
      ),
    ).toThrow(/needs a unix:\/\/ CRI endpoint/);
  });

  it("gives a stopped worker only the release wait that fits in the stop grace", () => {
    const env = (stopGraceMs: number) =>
      workerContainerSpec(spec, { image: "img", stopGraceMs }, { grpc: 6000, http: 6001 }).Env;
    expect(env(30_000)).toContain("WHARF_RELEASE_GRACE=29000ms");
    expect(env(500)).toContain("WHARF_RELEASE_GRACE=0ms");
  });

  it("publishes the gRPC port on the advertised host when not on the host network", () => {
    const body = workerContainerSpec(spec, { image: "img", network: "bridge" }, { grpc: 6000, http: 6001 });
    expect(body.HostConfig?.PortBindings).toEqual({
      "6000/tcp": [{ HostIp: "127.0.0.1", HostPort: "6000" }],
    });
  });
});
