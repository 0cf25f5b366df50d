import { describe, expect, it } from "vitest";
import { MIN_MASKED_LENGTH, MIN_MASKED_LINE_LENGTH, maskableSecretValues } from "../src/index.js";

describe("maskableSecretValues", () => {
  it("masks a single-line value whole, trimmed of the newline a file-made Secret ends with", () => {
    expect(maskableSecretValues(["hunter2-Pa55word\n", "tok_abcdef"])).toEqual([
      "hunter2-Pa55word",
      "tok_abcdef",
    ]);
  });

  it(`skips values shorter than ${MIN_MASKED_LENGTH} characters, without a letter or digit, or trivial words`, () => {
    expect(MIN_MASKED_LENGTH).toBe(6);
    expect(
      maskableSecretValues([
        "",
        "ci",
        "admin",
        "5432",
        "------",
        "  **  ",
        "true",
        "FALSE",
        "null",
        "undefined",
      ]),
    ).toEqual([]);
    expect(maskableSecretValues(["abcdef", "123456"])).toEqual(["abcdef", "123456"]);
  });

  it("skips binary values and removes duplicates", () => {
    expect(maskableSecretValues(["bin\0ary-data", "bad\uFFFDutf8-data", "same-value", "same-value"])).toEqual(
      ["same-value"],
    );
  });

  it("masks a multi-line value line by line: values of key/value lines, other lines whole, never structure", () => {
    const kubeconfig = [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: production-cluster",
      "    cluster:",
      "      server: https://10.0.0.1:6443",
      "users:",
      "  - name: me",
      "    user:",
      "      token: eyJhbGciOiJSUzI1NiJ9.abc",
      '      "client-key-data": "LS0tLS1CRUdJTg==",',
      "  - name: deployer",
      "current-context: prod",
    ].join("\n");
    expect(MIN_MASKED_LINE_LENGTH).toBe(8);
    expect(maskableSecretValues([kubeconfig])).toEqual([
      "production-cluster",
      "https://10.0.0.1:6443",
      "eyJhbGciOiJSUzI1NiJ9.abc",
      "LS0tLS1CRUdJTg==",
      "deployer",
    ]);
  });

  it("masks the rows of a PEM key but not its armour lines, and .env values", () => {
    const pem = [
      "-----BEGIN PRIVATE KEY-----",
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
      "Zm9vYmFyYmF6cXV4==",
      "-----END PRIVATE KEY-----",
    ].join("\n");
    expect(maskableSecretValues([pem])).toEqual(["MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "Zm9vYmFyYmF6cXV4=="]);
    expect(maskableSecretValues(["DB_USER=app\nexport DB_PASSWORD='s3cr3t-pw'\nPORT=5432\n"])).toEqual([
      "s3cr3t-pw",
    ]);
  });

  it("masks a docker config's auth, its decoded user:password, the password and token fields", () => {
    const auth = Buffer.from("ci-bot:regpass-1234").toString("base64");
    const config = JSON.stringify({
      auths: {
        "registry.example.com": { auth },
        "ghcr.io": { username: "bot", password: "ghp_0123456789", identitytoken: "id-token-xyz" },
      },
    });
    const values = maskableSecretValues([config]);
    expect(values).toEqual(
      expect.arrayContaining([
        config,
        auth,
        "ci-bot:regpass-1234",
        "regpass-1234",
        "ghp_0123456789",
        "id-token-xyz",
      ]),
    );
    expect(values).toHaveLength(6);
    // Pretty-printed (multi-line) too: per line, plus the decoded credentials; never "{" or "},".
    const pretty = maskableSecretValues([JSON.stringify(JSON.parse(config), null, 2)]);
    expect(pretty).toEqual(
      expect.arrayContaining([auth, "ci-bot:regpass-1234", "regpass-1234", "ghp_0123456789", "id-token-xyz"]),
    );
    expect(pretty.some((v) => /^[{}],?$/.test(v) || v.includes("\n"))).toBe(false);
  });
});
