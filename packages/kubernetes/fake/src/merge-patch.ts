import { ApiStatusError } from "./api-status.js";
import type { KubeObject } from "./object-store.js";

/** The PATCH content type the fake applies; the API server's others (json-patch, strategic, apply) are refused. */
export const MERGE_PATCH = "application/merge-patch+json";

// biome-ignore lint/suspicious/noExplicitAny: patches are open JSON
type Json = any;

const isObject = (v: Json) => v !== null && typeof v === "object" && !Array.isArray(v);

/** RFC 7386: objects merge key by key, `null` removes a key, anything else replaces. */
function merge(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = merge(out[k], v);
  }
  return out;
}

/** What no patch may change: the object's identity and what the server keeps. */
const FIXED_METADATA = [
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "creationTimestamp",
  "deletionTimestamp",
];

/**
 * Applies a JSON merge patch to a stored object as the API server does for the metadata
 * the fake's clients patch (labels, annotations, ownerReferences) and for the data of
 * Secrets and ConfigMaps. A pod's spec and any status are not patchable here (the real
 * server allows only a few pod spec fields, none of which wharf patches).
 */
export function applyMergePatch(kind: string, obj: KubeObject, patch: Json, contentType: string): KubeObject {
  if (!contentType.startsWith(MERGE_PATCH)) {
    throw new ApiStatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH} (the fake's only one)`,
    );
  }
  if (!isObject(patch)) throw new ApiStatusError(400, "BadRequest", "a merge patch must be a JSON object");
  if (patch.status !== undefined || (kind === "Pod" && patch.spec !== undefined)) {
    throw new ApiStatusError(
      422,
      "Invalid",
      `${kind} "${obj.metadata.name}" is invalid: only metadata is patchable by the fake`,
    );
  }
  const next = merge(obj, patch) as KubeObject;
  for (const field of FIXED_METADATA) {
    const before = (obj.metadata as Json)[field];
    const after = (next.metadata as Json)[field];
    if (after !== before) {
      throw new ApiStatusError(
        422,
        "Invalid",
        `${kind} "${obj.metadata.name}" is invalid: metadata.${field}: field is immutable`,
      );
    }
  }
  return next;
}
