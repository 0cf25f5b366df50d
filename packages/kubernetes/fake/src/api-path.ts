/** A request path of the core API group, split the way the API server's RequestInfo does. */
export interface ApiPath {
  namespace?: string;
  resource: string;
  name?: string;
  subresource?: string;
}

/** The core-group resources the fake serves, with their kinds. */
export const RESOURCE_KINDS: Record<string, string> = {
  pods: "Pod",
  persistentvolumeclaims: "PersistentVolumeClaim",
  events: "Event",
  secrets: "Secret",
  configmaps: "ConfigMap",
};

/** Parses `/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]`; undefined if it is not such a path. */
export function parseApiPath(pathname: string): ApiPath | undefined {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== "api" || parts[1] !== "v1") return undefined;
  let rest = parts.slice(2);
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (!resource || extra.length > 0) return undefined;
  return { namespace, resource, name, subresource };
}

/** The RBAC verb of an HTTP request, as the API server's authorizer sees it. */
export function rbacVerb(method: string, path: ApiPath, watch: boolean): string {
  switch (method) {
    case "GET":
      return path.name ? "get" : watch ? "watch" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return path.name ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}
