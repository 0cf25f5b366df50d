import { randomUUID } from "node:crypto";

/** Any API object as stored: JSON with the standard metadata. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // biome-ignore lint/suspicious/noExplicitAny: API objects are open JSON
  [field: string]: any;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  finalizers?: string[];
  // biome-ignore lint/suspicious/noExplicitAny: open metadata
  [field: string]: any;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change, kept in a bounded history so watches can resume from a resourceVersion. */
export interface StoreEvent {
  type: WatchEventType;
  resource: string;
  resourceVersion: number;
  object: KubeObject;
  /** The object before a MODIFIED change, to tell "left the selector" from "changed". */
  previous?: KubeObject;
}

export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

const HISTORY_LIMIT = 5000;
// The alphabet the API server's name generator uses (no vowels, no look-alikes).
const NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function randomSuffix(): string {
  let s = "";
  for (let i = 0; i < 5; i++) s += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
  return s;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * The fake API server's etcd: objects per resource ("pods", "events", ...), a global
 * resourceVersion counter, and a change feed. Everything handed out is a deep copy so a
 * caller cannot change stored state by accident.
 */
export class ObjectStore {
  private version = 0;
  private readonly byResource = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  get resourceVersion(): number {
    return this.version;
  }

  /** The oldest resourceVersion a watch can still resume after. */
  get oldestResumableVersion(): number {
    return this.history.length === HISTORY_LIMIT ? this.history[0]!.resourceVersion : 0;
  }

  private table(resource: string): Map<string, KubeObject> {
    let t = this.byResource.get(resource);
    if (!t) {
      t = new Map();
      this.byResource.set(resource, t);
    }
    return t;
  }

  private readonly pending: StoreEvent[] = [];
  private dispatching = false;

  /**
   * Listeners may change the store while handling an event (the kubelet does); their
   * changes are queued so every listener sees every event in resourceVersion order.
   */
  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();
    this.pending.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const l of [...this.listeners]) l(structuredClone(next));
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Stores a new object, filling uid, name (from generateName), resourceVersion and timestamps. */
  create(resource: string, namespace: string, input: KubeObject): KubeObject {
    const obj = structuredClone(input);
    const t = this.table(resource);
    let name = obj.metadata.name;
    if (!name) {
      for (let i = 0; i < 20 && (!name || t.has(key(namespace, name))); i++) {
        name = `${obj.metadata.generateName}${randomSuffix()}`;
      }
    }
    if (t.has(key(namespace, name!))) throw new ConflictError(`${resource} "${name}" already exists`);
    obj.metadata = {
      ...obj.metadata,
      name,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(++this.version),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    };
    t.set(key(namespace, name!), obj);
    this.emit({ type: "ADDED", resource, resourceVersion: this.version, object: structuredClone(obj) });
    return structuredClone(obj);
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    const obj = this.table(resource).get(key(namespace, name));
    return obj && structuredClone(obj);
  }

  /** Objects of a resource, in one namespace or (namespace undefined) all of them. */
  list(resource: string, namespace?: string): KubeObject[] {
    return [...this.table(resource).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map((o) => structuredClone(o));
  }

  /** Applies `change` to a copy of the stored object and stores it with a new resourceVersion. */
  update(resource: string, namespace: string, name: string, change: (obj: KubeObject) => void): KubeObject {
    const t = this.table(resource);
    const stored = t.get(key(namespace, name));
    if (!stored) throw new ConflictError(`${resource} "${name}" not found`);
    const next = structuredClone(stored);
    change(next);
    next.metadata.resourceVersion = String(++this.version);
    t.set(key(namespace, name), next);
    this.emit({
      type: "MODIFIED",
      resource,
      resourceVersion: this.version,
      object: structuredClone(next),
      previous: stored,
    });
    return structuredClone(next);
  }

  /** Removes an object for good; returns it, or undefined if it was already gone. */
  remove(resource: string, namespace: string, name: string): KubeObject | undefined {
    const t = this.table(resource);
    const stored = t.get(key(namespace, name));
    if (!stored) return undefined;
    t.delete(key(namespace, name));
    stored.metadata.resourceVersion = String(++this.version);
    this.emit({ type: "DELETED", resource, resourceVersion: this.version, object: structuredClone(stored) });
    return structuredClone(stored);
  }

  /** Every object of any resource whose ownerReferences point at `uid`. */
  dependantsOf(uid: string): { resource: string; object: KubeObject }[] {
    const found: { resource: string; object: KubeObject }[] = [];
    for (const [resource, t] of this.byResource) {
      for (const o of t.values()) {
        if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) {
          found.push({ resource, object: structuredClone(o) });
        }
      }
    }
    return found;
  }

  /** Changes after `resourceVersion`, oldest first. */
  eventsSince(resourceVersion: number): StoreEvent[] {
    return this.history.filter((e) => e.resourceVersion > resourceVersion).map((e) => structuredClone(e));
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
