export { type ApiPath, parseApiPath, RESOURCE_KINDS, rbacVerb } from "./api-path.js";
export { ApiStatusError } from "./api-status.js";
export {
  type AuthorizationRequest,
  type Authorizer,
  type PolicyRule,
  rbacAuthorizer,
} from "./authorization.js";
export {
  type ApiCall,
  execProtocols,
  FakeKubeApiServer,
  type FakeKubeOptions,
  type Fault,
  type FaultAction,
  type InjectedFault,
} from "./fake-kube-api-server.js";
export { type FakeClusterEnv, startFakeClusterEnv } from "./fake-kubeconfig.js";
export { FakeKubelet, type KubeletOptions } from "./kubelet.js";
export type { FakeNode, FakeNodeSpec, FakeTaint } from "./node-placement.js";
export { type KubeObject, ObjectStore, type StoreEvent } from "./object-store.js";
export { pollUntil } from "./poll-until.js";
export { parseFieldSelector, parseLabelSelector, SelectorError } from "./selectors.js";
export type { FakeStorageOptions } from "./storage.js";
