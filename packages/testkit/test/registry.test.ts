import { describe, expect, it } from "vitest";
import { canStartRegistry, startRegistry } from "../src/index.js";

const credentials = { user: "wharf-testkit", password: "testkit-registry-pw-3a9d" };

describe.skipIf(!canStartRegistry({ auth: true }))("startRegistry", () => {
  it("asks for its user's password when given one, and is gone once stopped", async () => {
    const registry = await startRegistry({ auth: credentials });
    try {
      expect((await fetch(`http://${registry.host}/v2/`)).status).toBe(401);
      const wrong = `Basic ${Buffer.from(`${credentials.user}:nope`).toString("base64")}`;
      expect((await fetch(`http://${registry.host}/v2/`, { headers: { authorization: wrong } })).status).toBe(
        401,
      );
      const ok = await fetch(`http://${registry.host}/v2/`, {
        headers: { authorization: registry.authorization },
      });
      expect(ok.status).toBe(200);
    } finally {
      await registry.stop();
    }
    await expect(fetch(`http://${registry.host}/v2/`)).rejects.toThrow();
  });

  it("is open without a user, and says why when it cannot listen", async () => {
    const open = await startRegistry();
    try {
      expect(open.authorization).toBeUndefined();
      expect((await fetch(`http://${open.host}/v2/`)).status).toBe(200);
      await expect(startRegistry({ host: open.host })).rejects.toThrow(/exited: .*address already in use/s);
    } finally {
      await open.stop();
    }
  });
});
