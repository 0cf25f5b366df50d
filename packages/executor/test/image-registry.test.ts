import { describe, expect, it } from "vitest";
import { imageRegistryHost, registryHost } from "../src/index.js";

describe("registry hosts", () => {
  it("names an image's registry as Docker's reference rules do", () => {
    expect(imageRegistryHost("busybox")).toBe("docker.io");
    expect(imageRegistryHost("wharf-test/busybox:latest")).toBe("docker.io");
    expect(imageRegistryHost("127.0.0.1:5000/a/b:1")).toBe("127.0.0.1:5000");
    expect(imageRegistryHost("localhost/app")).toBe("localhost");
    expect(imageRegistryHost("Registry.Example.com/app")).toBe("registry.example.com");
    expect(imageRegistryHost("index.docker.io/library/busybox")).toBe("docker.io");
  });

  it("reads a registry address in any of its spellings", () => {
    expect(registryHost("https://index.docker.io/v1/")).toBe("docker.io");
    expect(registryHost("registry-1.docker.io")).toBe("docker.io");
    expect(registryHost("http://127.0.0.1:5000")).toBe("127.0.0.1:5000");
    expect(registryHost("ghcr.io/owner")).toBe("ghcr.io");
  });
});
