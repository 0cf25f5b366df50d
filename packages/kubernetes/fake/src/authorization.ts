import { ApiStatusError } from "./api-status.js";

/** One request as the RBAC authorizer sees it (resource with "/subresource" split off). */
export interface AuthorizationRequest {
  verb: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A rule of an RBAC Role, as in `rbac.authorization.k8s.io/v1` (`"*"` wildcards allowed). */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** Whether a request is allowed; the fake answers 403 Forbidden when it is not. */
export type Authorizer = (request: AuthorizationRequest) => boolean;

/** An authorizer for the core group that allows exactly what `rules` grant, as RBAC evaluates a Role. */
export function rbacAuthorizer(rules: PolicyRule[]): Authorizer {
  return (r) => {
    const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
    return rules.some(
      (rule) =>
        (rule.apiGroups.includes("") || rule.apiGroups.includes("*")) &&
        (rule.resources.includes(resource) || rule.resources.includes("*")) &&
        (rule.verbs.includes(r.verb) || rule.verbs.includes("*")) &&
        (!rule.resourceNames?.length || (r.name !== undefined && rule.resourceNames.includes(r.name))),
    );
  };
}

/** The API server's 403, worded like its RBAC denial. */
export function forbidden(r: AuthorizationRequest, user: string): ApiStatusError {
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  const what = r.name ? `${r.resource} "${r.name}"` : r.resource;
  const where = r.namespace ? ` in the namespace "${r.namespace}"` : " at the cluster scope";
  return new ApiStatusError(
    403,
    "Forbidden",
    `${what} is forbidden: User "${user}" cannot ${r.verb} resource "${resource}" in API group ""${where}`,
    { ...(r.name ? { name: r.name } : {}), kind: r.resource },
  );
}
