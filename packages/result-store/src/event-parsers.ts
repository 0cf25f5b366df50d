import { type ArtifactEvent, isStepStatus, type StatusEvent } from "./types.js";

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

export function parseStatusEvent(raw: unknown, expectedId: number): StatusEvent | undefined {
  const e = raw as Partial<StatusEvent> | null;
  if (
    !e ||
    e.eventId !== expectedId ||
    !isCount(e.stepId) ||
    !isStepStatus(e.status) ||
    !isTime(e.timestamp)
  ) {
    return undefined;
  }
  return { eventId: e.eventId, stepId: e.stepId, status: e.status, timestamp: e.timestamp };
}

export function parseArtifactEvent(raw: unknown, expectedId: number): ArtifactEvent | undefined {
  const e = raw as Partial<ArtifactEvent> | null;
  if (
    !e ||
    e.artifactId !== expectedId ||
    !isCount(e.stepId) ||
    typeof e.name !== "string" ||
    !isCount(e.size) ||
    typeof e.sha256 !== "string" ||
    !isTime(e.timestamp)
  ) {
    return undefined;
  }
  const { artifactId, stepId, name, size, sha256, timestamp } = e;
  return { artifactId, stepId, name, size, sha256, timestamp };
}
