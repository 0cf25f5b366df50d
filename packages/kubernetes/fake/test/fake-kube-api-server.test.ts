import net from "node:net";
import { PassThrough, Readable, Writable } from "node:stream";
import {
  CoreV1Api,
  Exec,
  Log,
  PortForward,
  type V1Pod,
  type V1Status,
  VersionApi,
  Watch,
} from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeKubeApiServer, pollUntil, rbacAuthorizer } from "../src/index.js";

let fake: FakeKubeApiServer;
let api: CoreV1Api;
const ns = "wharf-test";

beforeEach(async () => {
  fake = await FakeKubeApiServer.start({ imageExists: (image) => !image.startsWith("missing/") });
  api = fake.kubeConfig(ns).makeApiClient(CoreV1Api);
});
afterEach(async () => {
  await fake.close();
});

function shellPod(name: string, script: string, extra: Partial<V1Pod["spec"]> = {}): V1Pod {
  return {
    metadata: { name, labels: { app: "t", role: name } },
    spec: {
      restartPolicy: "Never",
      containers: [{ name: "main", image: "busybox", command: ["/bin/sh", "-c", script] }],
      ...extra,
    },
  };
}

const phaseOf = async (name: string) =>
  (await api.readNamespacedPodStatus({ name, namespace: ns })).status?.phase;

async function collectLog(name: string, container: string, timestamps = false): Promise<string> {
  let text = "";
  const done = new Promise<void>((resolve) => {
    const sink = new Writable({
      write(chunk, _enc, cb) {
        text += chunk.toString();
        cb();
      },
    });
    sink.on("finish", resolve);
    void new Log(fake.kubeConfig(ns)).log(ns, name, container, sink, { follow: true, timestamps });
  });
  await done;
  return text;
}

describe("pods through client-node", () => {
  it("runs init containers then containers, serves logs and the exit code", async () => {
    const created = await api.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { generateName: "job-" },
        spec: {
          restartPolicy: "Never",
          initContainers: [{ name: "init", image: "busybox", command: ["/bin/sh", "-c", "echo init-ran"] }],
          containers: [
            {
              name: "main",
              image: "busybox",
              command: ["/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"],
            },
          ],
        },
      },
    });
    const name = created.metadata!.name!;
    expect(name).toMatch(/^job-[a-z0-9]{5}$/);
    expect(created.metadata?.uid).toBeTruthy();
    await pollUntil(async () => (await phaseOf(name)) === "Failed", "pod to fail");
    const pod = await api.readNamespacedPod({ name, namespace: ns });
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 3,
      reason: "Error",
    });
    expect(await collectLog(name, "init")).toBe("init-ran\n");
    expect(await collectLog(name, "main")).toBe("hello\noops\n");
  });

  it("follows a running container's log until it ends", async () => {
    await api.createNamespacedPod({ namespace: ns, body: shellPod("slow", "echo a; sleep 0.3; echo b") });
    await pollUntil(async () => (await phaseOf("slow")) === "Running", "pod to run");
    expect(await collectLog("slow", "main")).toBe("a\nb\n");
    // The kubelet updates the status after the container's log ended (as a real one does).
    await pollUntil(async () => (await phaseOf("slow")) === "Succeeded", "pod to succeed");
  });

  it("serves lines as the runtime's log file has them: timestamps per line, a last line without newline ended", async () => {
    const long = "x".repeat(40_000);
    await api.createNamespacedPod({
      namespace: ns,
      body: shellPod("lines", `echo one; printf 'two '; sleep 0.1; echo halves; echo ${long}; printf tail`),
    });
    await pollUntil(async () => (await phaseOf("lines")) === "Succeeded", "pod to succeed");
    expect(await collectLog("lines", "main")).toBe(`one\ntwo halves\n${long}\ntail\n`);
    const stamped = (await collectLog("lines", "main", true)).split("\n");
    const ts = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /;
    expect(stamped.map((l) => l.replace(ts, ""))).toEqual(["one", "two halves", long, "tail", ""]);
    expect(stamped.slice(0, 4).every((l) => ts.test(l))).toBe(true);
    // A line longer than one runtime entry (16 KiB) still carries one timestamp, at its start.
    expect(stamped[2]!.match(/\d{4}-\d\d-\d\dT/g)).toHaveLength(1);
  });

  it("ends a followed log with the kubelet's error text when the pod is deleted meanwhile", async () => {
    await api.createNamespacedPod({ namespace: ns, body: shellPod("doomed", "echo started; sleep 30") });
    await pollUntil(async () => (await phaseOf("doomed")) === "Running", "pod to run");
    const log = collectLog("doomed", "main", true);
    await new Promise((r) => setTimeout(r, 100));
    await api.deleteNamespacedPod({ name: "doomed", namespace: ns, gracePeriodSeconds: 1 });
    const lines = (await log).split("\n");
    expect(lines[0]).toMatch(/^\S+Z started$/);
    expect(lines[1]).toMatch(
      /^rpc error: code = NotFound desc = an error occurred when try to find container "[^"]+-main": not found$/,
    );
    expect(lines).toHaveLength(2);
  });

  it("lists with label and field selectors and rejects a bad selector", async () => {
    await api.createNamespacedPod({ namespace: ns, body: shellPod("one", "true") });
    await api.createNamespacedPod({ namespace: ns, body: shellPod("two", "true") });
    const byLabel = await api.listNamespacedPod({
      namespace: ns,
      labelSelector: "app=t,role in (two,three)",
    });
    expect(byLabel.items.map((p) => p.metadata?.name)).toEqual(["two"]);
    const byField = await api.listNamespacedPod({ namespace: ns, fieldSelector: "metadata.name=one" });
    expect(byField.items.map((p) => p.metadata?.name)).toEqual(["one"]);
    expect((await api.listNamespacedPod({ namespace: "other" })).items).toEqual([]);
    await expect(api.listNamespacedPod({ namespace: ns, labelSelector: "a in (" })).rejects.toMatchObject({
      code: 400,
    });
  });

  it("rejects invalid pods with 422 and duplicates with 409", async () => {
    await expect(
      api.createNamespacedPod({
        namespace: ns,
        body: { metadata: { name: "Bad_Name" }, spec: { containers: [] } },
      }),
    ).rejects.toMatchObject({ code: 422 });
    await api.createNamespacedPod({ namespace: ns, body: shellPod("dup", "true") });
    await expect(
      api.createNamespacedPod({ namespace: ns, body: shellPod("dup", "true") }),
    ).rejects.toMatchObject({ code: 409 });
    await expect(api.readNamespacedPod({ name: "nope", namespace: ns })).rejects.toMatchObject({ code: 404 });
  });

  it("leaves a pod with an unknown image Pending with ErrImagePull then ImagePullBackOff, and records an event", async () => {
    await api.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "nopull" },
        spec: { containers: [{ name: "main", image: "missing/thing:1", command: ["true"] }] },
      },
    });
    const reason = await pollUntil(async () => {
      const pod = await api.readNamespacedPod({ name: "nopull", namespace: ns });
      const r = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
      return r === "ImagePullBackOff" && r;
    }, "back-off");
    expect(reason).toBe("ImagePullBackOff");
    expect(await phaseOf("nopull")).toBe("Pending");
    const events = await api.listNamespacedEvent({
      namespace: ns,
      fieldSelector: "involvedObject.name=nopull",
    });
    expect(events.items.map((e) => e.reason)).toContain("Failed");
    expect(events.items.find((e) => e.reason === "Failed")?.message).toContain("missing/thing:1");
  });

  it("reports CreateContainerConfigError for a missing secret and resolves secrets and the downward API", async () => {
    await api.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "nosecret" },
        spec: {
          containers: [
            {
              name: "main",
              image: "busybox",
              command: ["true"],
              envFrom: [{ secretRef: { name: "absent" } }],
            },
          ],
        },
      },
    });
    await pollUntil(async () => {
      const pod = await api.readNamespacedPod({ name: "nosecret", namespace: ns });
      return pod.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CreateContainerConfigError";
    }, "config error");
    await api.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: "creds" },
        stringData: undefined,
        data: { TOKEN: Buffer.from("s3cret").toString("base64") },
      },
    });
    await api.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "withsecret" },
        spec: {
          restartPolicy: "Never",
          containers: [
            {
              name: "main",
              image: "busybox",
              command: ["/bin/sh", "-c", 'echo "$TOKEN $ME"'],
              envFrom: [{ secretRef: { name: "creds" } }],
              env: [{ name: "ME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            },
          ],
        },
      },
    });
    await pollUntil(async () => (await phaseOf("withsecret")) === "Succeeded", "pod to succeed");
    expect(await collectLog("withsecret", "main")).toBe("s3cret withsecret\n");
  });

  it("deletes gracefully (SIGTERM) and cascades to dependants by ownerReference", async () => {
    const owner = await api.createNamespacedPod({ namespace: ns, body: shellPod("owner", "sleep 30") });
    const child = shellPod("child", "sleep 30");
    child.metadata!.ownerReferences = [
      { apiVersion: "v1", kind: "Pod", name: "owner", uid: owner.metadata!.uid! },
    ];
    await api.createNamespacedPod({ namespace: ns, body: child });
    await pollUntil(async () => (await phaseOf("child")) === "Running", "child to run");
    await api.deleteNamespacedPod({ name: "owner", namespace: ns, gracePeriodSeconds: 5 });
    await pollUntil(
      async () => (await api.listNamespacedPod({ namespace: ns })).items.length === 0,
      "pods to go",
    );
    expect(fake.calls.filter((c) => c.verb === "delete").map((c) => c.name)).toEqual(["owner"]);
  });

  it("honours a delete's uid precondition: 409 Conflict for another object of the name", async () => {
    const first = await api.createNamespacedPod({ namespace: ns, body: shellPod("same-name", "sleep 30") });
    const stale = { preconditions: { uid: "not-the-pods-uid" } };
    const refused = await api
      .deleteNamespacedPod({ name: "same-name", namespace: ns, gracePeriodSeconds: 0, body: stale })
      .catch((err: { code?: number; body?: string }) => err);
    expect((refused as { code?: number }).code).toBe(409);
    expect(JSON.parse((refused as { body: string }).body)).toMatchObject({
      reason: "Conflict",
      message: `Operation cannot be fulfilled on pods "same-name": Precondition failed: UID in precondition: not-the-pods-uid, UID in object meta: ${first.metadata!.uid}`,
    });
    expect((await api.readNamespacedPod({ name: "same-name", namespace: ns })).metadata?.uid).toBe(
      first.metadata!.uid,
    );
    const matching = { preconditions: { uid: first.metadata!.uid! } };
    await api.deleteNamespacedPod({
      name: "same-name",
      namespace: ns,
      gracePeriodSeconds: 0,
      body: matching,
    });
    await pollUntil(
      async () => (await api.listNamespacedPod({ namespace: ns })).items.length === 0,
      "the pod to go",
    );
  });
  it("streams watch events from a resourceVersion, with label selectors", async () => {
    const list = await api.listNamespacedPod({ namespace: ns });
    const seen: string[] = [];
    const controller = await new Watch(fake.kubeConfig(ns)).watch(
      `/api/v1/namespaces/${ns}/pods`,
      { labelSelector: "role=watched", resourceVersion: list.metadata?.resourceVersion },
      (type, obj: V1Pod) => seen.push(`${type}:${obj.metadata?.name}:${obj.status?.phase}`),
      () => {},
    );
    await api.createNamespacedPod({ namespace: ns, body: shellPod("ignored", "true") });
    await api.createNamespacedPod({ namespace: ns, body: shellPod("watched", "true") });
    await pollUntil(() => seen.includes("MODIFIED:watched:Succeeded"), "watched pod to succeed");
    await api.deleteNamespacedPod({ name: "watched", namespace: ns });
    await pollUntil(() => seen.some((s) => s.startsWith("DELETED:watched")), "DELETED event");
    controller.abort();
    expect(seen[0]).toBe("ADDED:watched:Pending");
    expect(seen.some((s) => s.includes("ignored"))).toBe(false);
    expect(fake.calls.some((c) => c.verb === "watch" && c.resource === "pods")).toBe(true);
  });
});

/** Runs `cat` in the pod with stdin that ends after `input`; what came back and the Status, if any. */
async function execCat(server: FakeKubeApiServer, pod: string, input: string) {
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (d) => {
    out += d.toString();
  });
  let status: V1Status | undefined;
  const ws = await new Exec(server.kubeConfig(ns)).exec(
    ns,
    pod,
    "main",
    ["cat"],
    stdout,
    new PassThrough(),
    Readable.from([input]),
    false,
    (s) => {
      status = s;
    },
  );
  await new Promise((resolve) => ws.on("close", resolve));
  return { protocol: ws.protocol, out, status };
}

describe("exec", () => {
  it("as a 1.31 API server speaks v5.channel.k8s.io: stdin is half-closed and the Status arrives", async () => {
    expect(await fake.kubeConfig(ns).makeApiClient(VersionApi).getCode()).toMatchObject({ minor: "31" });
    await api.createNamespacedPod({ namespace: ns, body: shellPod("box", "sleep 30") });
    await pollUntil(async () => (await phaseOf("box")) === "Running", "pod to run");
    expect(await execCat(fake, "box", "to cat\n")).toEqual({
      protocol: "v5.channel.k8s.io",
      out: "to cat\n",
      status: { metadata: {}, status: "Success" },
    });
  });

  it("as a 1.20 API server offers only v4.channel.k8s.io: ending stdin closes the socket and no Status comes", async () => {
    const old = await FakeKubeApiServer.start({ kubernetesVersion: "1.20.2" });
    try {
      const oldApi = old.kubeConfig(ns).makeApiClient(CoreV1Api);
      expect(await old.kubeConfig(ns).makeApiClient(VersionApi).getCode()).toMatchObject({
        major: "1",
        minor: "20",
        gitVersion: expect.stringMatching(/^v1\.20\.2/),
      });
      await oldApi.createNamespacedPod({ namespace: ns, body: shellPod("box", "sleep 30") });
      await pollUntil(
        async () =>
          (await oldApi.readNamespacedPod({ name: "box", namespace: ns })).status?.phase === "Running",
        "pod to run",
      );
      const result = await execCat(old, "box", "to cat\n");
      expect(result.protocol).toBe("v4.channel.k8s.io");
      expect(result.status).toBeUndefined();
    } finally {
      await old.close();
    }
  });
});

describe("fault injection", () => {
  const podsUrl = () => `${fake.url}/api/v1/namespaces/${ns}/pods`;

  it("answers a Status with the injected code, as often as asked, and records it", async () => {
    await api.createNamespacedPod({ namespace: ns, body: shellPod("flaky", "sleep 30") });
    const fault = fake.injectFault({
      verb: "get",
      resource: "pods",
      subresource: "",
      action: { kind: "status", code: 503, retryAfterSeconds: 1 },
      times: 2,
    });
    for (let i = 0; i < 2; i++) {
      await expect(api.readNamespacedPod({ name: "flaky", namespace: ns })).rejects.toMatchObject({
        code: 503,
        headers: expect.objectContaining({ "retry-after": "1" }),
      });
    }
    expect((await api.readNamespacedPod({ name: "flaky", namespace: ns })).metadata?.name).toBe("flaky");
    expect(fault.hits).toBe(2);
    expect(fake.calls.filter((c) => c.verb === "get" && c.name === "flaky").map((c) => c.code)).toEqual([
      503, 503, 200,
    ]);
  });

  it("drops the connection, hangs, or delays the answer of matching requests only", async () => {
    const drop = fake.injectFault({ verb: "list", resource: "pods", action: { kind: "drop" }, times: 1 });
    await expect(fetch(podsUrl())).rejects.toThrow();
    expect(drop.hits).toBe(1);
    expect((await fetch(podsUrl())).status).toBe(200);

    const hang = fake.injectFault({ verb: "list", resource: "pods", action: { kind: "hang" } });
    await expect(fetch(podsUrl(), { signal: AbortSignal.timeout(200) })).rejects.toThrow(/abort|timeout/i);
    expect((await fetch(`${fake.url}/api/v1/namespaces/${ns}/secrets`)).status).toBe(200);
    hang.remove();

    fake.injectFault({ verb: "list", resource: "pods", action: { kind: "delay", ms: 300 }, times: 1 });
    const started = Date.now();
    expect((await fetch(podsUrl())).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(fake.calls.filter((c) => c.verb === "list" && c.resource === "pods").map((c) => c.code)).toEqual([
      0, 200, 0, 200,
    ]);
  });

  it("cuts a followed log in the middle of its body (reset)", async () => {
    await api.createNamespacedPod({ namespace: ns, body: shellPod("talker", "echo first; sleep 30") });
    await pollUntil(async () => (await phaseOf("talker")) === "Running", "pod to run");
    fake.injectFault({ resource: "pods", subresource: "log", action: { kind: "reset", afterMs: 200 } });
    const res = await fetch(`${podsUrl()}/talker/log?container=main&follow=true`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = "";
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          text += Buffer.from(value).toString();
        }
      })(),
    ).rejects.toThrow();
    expect(text).toBe("first\n");
  });
});

describe("port-forward", () => {
  it("relays bytes both ways to a port the pod listens on, with the port-prefix frames", async () => {
    const echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const port = (echo.address() as net.AddressInfo).port;
    try {
      await api.createNamespacedPod({ namespace: ns, body: shellPod("server", "sleep 30") });
      await pollUntil(async () => (await phaseOf("server")) === "Running", "pod to run");
      const input = new PassThrough();
      const output = new PassThrough();
      const ws = await new PortForward(fake.kubeConfig(ns)).portForward(
        ns,
        "server",
        [port],
        output,
        null,
        input,
      );
      input.write("ping over the api server");
      const received = await pollUntil(() => {
        const chunk = output.read()?.toString();
        return chunk || undefined;
      }, "echo");
      expect(received).toBe("ping over the api server");
      (ws as { close(): void }).close();
      expect(fake.calls).toContainEqual({
        verb: "get",
        resource: "pods",
        subresource: "portforward",
        namespace: ns,
        name: "server",
        code: 101,
      });
    } finally {
      echo.close();
    }
  });

  it("refuses to forward to a pod that is not running", async () => {
    await api.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "stuck" },
        spec: { containers: [{ name: "m", image: "missing/x", command: ["true"] }] },
      },
    });
    await expect(
      new PortForward(fake.kubeConfig(ns)).portForward(
        ns,
        "stuck",
        [1234],
        new PassThrough(),
        null,
        new PassThrough(),
      ),
    ).rejects.toBeTruthy();
  });
});

describe("secrets", () => {
  it("serves a created Secret by name, stringData merged into base64 data, type defaulted", async () => {
    await api.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: "creds" },
        data: { user: Buffer.from("ci").toString("base64") },
        stringData: { password: "s3cret-pw" },
      },
    });
    const secret = await api.readNamespacedSecret({ name: "creds", namespace: ns });
    expect(secret.kind).toBe("Secret");
    expect(secret.type).toBe("Opaque");
    expect(secret.stringData).toBeUndefined();
    expect(secret.data).toEqual({
      user: Buffer.from("ci").toString("base64"),
      password: Buffer.from("s3cret-pw").toString("base64"),
    });
    await expect(api.readNamespacedSecret({ name: "absent", namespace: ns })).rejects.toMatchObject({
      code: 404,
    });
  });

  it("refuses data that is not base64, bad keys and a dockerconfigjson Secret without its key", async () => {
    await expect(
      api.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: "b" }, data: { k: "not base64!" } },
      }),
    ).rejects.toMatchObject({ code: 400 });
    await expect(
      api.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: "k" }, stringData: { "a b": "x" } },
      }),
    ).rejects.toMatchObject({ code: 422 });
    await expect(
      api.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: "d" }, type: "kubernetes.io/dockerconfigjson", stringData: { x: "{}" } },
      }),
    ).rejects.toMatchObject({ code: 422 });
  });
});

describe("authorization", () => {
  it("answers 403 Forbidden, worded like RBAC, to what the authorizer denies, and records it", async () => {
    await fake.close();
    fake = await FakeKubeApiServer.start({
      authorize: rbacAuthorizer([{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }]),
      user: "system:serviceaccount:wharf-test:wharf-worker",
    });
    api = fake.kubeConfig(ns).makeApiClient(CoreV1Api);
    await api.listNamespacedPod({ namespace: ns });
    const denied = await api.readNamespacedSecret({ name: "creds", namespace: ns }).catch((e) => e);
    expect(denied.code).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({
      kind: "Status",
      reason: "Forbidden",
      message:
        'secrets "creds" is forbidden: User "system:serviceaccount:wharf-test:wharf-worker" cannot get resource "secrets" in API group "" in the namespace "wharf-test"',
    });
    expect(fake.calls.map((c) => `${c.verb} ${c.resource} ${c.code}`)).toEqual([
      "list pods 200",
      "get secrets 403",
    ]);
  });
});
