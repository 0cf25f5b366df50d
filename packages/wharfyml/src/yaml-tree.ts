import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Node as YamlNode,
} from "yaml";
import { type Diagnostic, DiagnosticList, type Pos } from "./diagnostics.js";

/**
 * A YAML document reduced to what a pipeline needs: maps with string keys (in declaration
 * order, duplicates kept so they can be reported), sequences and typed scalars, every node
 * with its position. Aliases and `<<` merge keys are already resolved.
 */
export type YNode = YMap | YSeq | YScalar;

export type ScalarValue = string | number | boolean | null;

export interface YScalar {
  kind: "scalar";
  value: ScalarValue;
  /** The text as written for plain scalars (`1.0` stays "1.0" when read as a string). */
  raw?: string;
  pos: Pos;
}

export interface YSeq {
  kind: "seq";
  items: YNode[];
  pos: Pos;
}

export interface YPair {
  key: string;
  keyPos: Pos;
  value: YNode;
}

export interface YMap {
  kind: "map";
  pairs: YPair[];
  pos: Pos;
}

export interface ParseResult {
  /** The document's root, or null when the text holds no usable document. */
  doc: YNode | null;
  diagnostics: Diagnostic[];
}

/**
 * Alias expansions are shared, but the pipeline walks them once per use; this bounds
 * the total walked size so "billion laughs" documents fail with an error, not a hang.
 */
const maxExpandedNodes = 1_000_000;

/** Parses YAML text into a positioned tree; never throws. */
export function parseYamlTree(text: string): ParseResult {
  const diags = new DiagnosticList();
  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    const parsed = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
    docs = Array.isArray(parsed) ? parsed : [];
  } catch (err) {
    // The yaml package reports problems as errors on the document; this is a last resort.
    diags.error({ line: 1, column: 1 }, "document", `cannot parse YAML: ${(err as Error).message}`);
    return { doc: null, diagnostics: diags.sorted() };
  }
  const posAt = (offset: number): Pos => {
    const p = lines.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line: p.line, column: p.col };
  };
  for (const doc of docs) {
    for (const e of doc.errors) diags.error(posAt(e.pos[0]), "document", firstLine(e.message));
    for (const w of doc.warnings) diags.warning(posAt(w.pos[0]), "document", firstLine(w.message));
  }
  for (const extra of docs.slice(1)) {
    diags.error(
      posAt(extra.range[0]),
      "document",
      "more than one YAML document; a pipeline file holds exactly one",
    );
  }
  const first = docs[0];
  if (!first || first.contents === null || isEmptyScalar(first.contents)) {
    diags.error(first ? posAt(first.range[0]) : { line: 1, column: 1 }, "document", "empty document");
    return { doc: null, diagnostics: diags.sorted() };
  }
  if (diags.hasErrors()) return { doc: null, diagnostics: diags.sorted() };
  const converter = new TreeConverter(first, posAt, diags);
  const root = converter.convert(first.contents);
  return { doc: converter.exhausted ? null : root, diagnostics: diags.sorted() };
}

function isEmptyScalar(node: YamlNode): boolean {
  return isScalar(node) && node.value === null && !node.tag;
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

class TreeConverter {
  private readonly done = new Map<YamlNode, { node: YNode; size: number }>();
  private readonly inProgress = new Set<YamlNode>();
  private expanded = 0;
  exhausted = false;

  constructor(
    private readonly doc: Document.Parsed,
    private readonly posAt: (offset: number) => Pos,
    private readonly diags: DiagnosticList,
  ) {}

  convert(node: YamlNode | null | undefined, fallback: Pos = { line: 1, column: 1 }): YNode {
    return this.convertSized(node, fallback).node;
  }

  private convertSized(node: YamlNode | null | undefined, fallback: Pos): { node: YNode; size: number } {
    if (node === null || node === undefined)
      return { node: { kind: "scalar", value: null, pos: fallback }, size: 1 };
    const pos = node.range ? this.posAt(node.range[0]) : fallback;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) return { node: { kind: "scalar", value: null, pos }, size: 1 };
      if (this.inProgress.has(target)) {
        this.diags.error(pos, "document", `alias *${node.source} refers to a node that contains it`);
        return { node: { kind: "scalar", value: null, pos }, size: 1 };
      }
      const shared = this.convertSized(target, pos);
      this.count(shared.size, pos);
      return shared;
    }
    const cached = this.done.get(node);
    if (cached) return cached;
    this.inProgress.add(node);
    const result = this.convertFresh(node, pos);
    this.inProgress.delete(node);
    this.done.set(node, result);
    return result;
  }

  private count(size: number, pos: Pos): void {
    this.expanded += size;
    if (this.expanded > maxExpandedNodes && !this.exhausted) {
      this.exhausted = true;
      this.diags.error(pos, "document", `aliases expand to more than ${maxExpandedNodes} nodes`);
    }
  }

  private convertFresh(node: YamlNode, pos: Pos): { node: YNode; size: number } {
    if (isScalar(node)) return { node: this.scalar(node.value, node.type, node.source, pos), size: 1 };
    if (isSeq(node)) {
      let size = 1;
      const items = node.items.map((item) => {
        const c = this.convertSized(item as YamlNode, pos);
        size += c.size;
        return c.node;
      });
      this.count(size, pos);
      return { node: { kind: "seq", items, pos }, size };
    }
    if (isMap(node)) return this.map(node.items, pos);
    this.diags.error(pos, "document", "unsupported YAML node");
    return { node: { kind: "scalar", value: null, pos }, size: 1 };
  }

  private scalar(value: unknown, type: string | undefined, source: string | undefined, pos: Pos): YScalar {
    if (value === null || typeof value === "string" || typeof value === "boolean")
      return { kind: "scalar", value, pos };
    if (typeof value === "number")
      return { kind: "scalar", value, pos, raw: type === "PLAIN" ? source : undefined };
    if (typeof value === "bigint") return { kind: "scalar", value: Number(value), pos, raw: source };
    // Custom tags (binary, timestamps...) have no meaning in a pipeline: keep their text.
    return { kind: "scalar", value: source ?? String(value), pos };
  }

  private map(items: readonly { key: unknown; value: unknown }[], pos: Pos): { node: YNode; size: number } {
    const pairs: YPair[] = [];
    const merged: YPair[] = [];
    let size = 1;
    for (const item of items) {
      const keyNode = item.key as YamlNode | null;
      const keyPos = keyNode?.range ? this.posAt(keyNode.range[0]) : pos;
      const value = this.convertSized(item.value as YamlNode | null, keyPos);
      size += value.size + 1;
      if (isScalar(keyNode) && keyNode.value === "<<" && keyNode.type === "PLAIN") {
        merged.push(...this.mergeSources(value.node, keyPos));
        continue;
      }
      const key = this.keyText(keyNode, keyPos);
      if (key !== null) pairs.push({ key, keyPos, value: value.node });
    }
    // Merge keys never override keys written in the map itself; earlier sources win.
    for (const pair of merged) {
      if (!pairs.some((p) => p.key === pair.key)) pairs.push(pair);
    }
    this.count(size, pos);
    return { node: { kind: "map", pairs, pos }, size };
  }

  private mergeSources(value: YNode, pos: Pos): YPair[] {
    const maps = value.kind === "seq" ? value.items : [value];
    const out: YPair[] = [];
    for (const m of maps) {
      if (m.kind !== "map") {
        this.diags.error(m.pos, "document", "merge key << needs a map or a list of maps");
        continue;
      }
      for (const pair of m.pairs) if (!out.some((p) => p.key === pair.key)) out.push(pair);
    }
    if (maps.length === 0) this.diags.error(pos, "document", "merge key << needs a map or a list of maps");
    return out;
  }

  private keyText(keyNode: YamlNode | null, keyPos: Pos): string | null {
    // Empty keys are kept as "" so the pipeline walk reports them with their scope.
    if (isScalar(keyNode)) {
      if (keyNode.value === null) return "";
      return typeof keyNode.value === "string" ? keyNode.value : (keyNode.source ?? String(keyNode.value));
    }
    if (isAlias(keyNode)) {
      const target = keyNode.resolve(this.doc);
      if (isScalar(target)) return target.value === null ? "" : String(target.value);
    }
    if (!keyNode) return "";
    this.diags.error(keyPos, "document", "keys must be plain text, not lists or maps");
    return null;
  }
}
