import { createHash } from "node:crypto";

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * A valid label value from any text (step names have spaces, build refs slashes): at most
 * 63 characters of `[A-Za-z0-9_.-]`, starting and ending alphanumeric. A short hash keeps
 * two different texts apart when characters had to be replaced or cut.
 */
export function labelValue(text: string): string {
  if (text.length <= 63 && LABEL_VALUE.test(text)) return text;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 8);
  const cleaned = text
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 54)
    .replace(/[^A-Za-z0-9]+$/, "");
  return cleaned ? `${cleaned}-${hash}` : hash;
}

/** Every value made a valid label value; keys are ours and already valid. */
export function labelSet(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, labelValue(v)]));
}

/** `a=b,c=d` for a list call's labelSelector. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labelSet(labels))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** A DNS-1123 name prefix for generateName (the server appends 5 characters): lowercase, ≤ 57. */
export function namePrefix(...parts: string[]): string {
  const joined = parts
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+/, "")
    .slice(0, 56)
    .replace(/-+$/, "");
  return `${joined || "wharf"}-`;
}
