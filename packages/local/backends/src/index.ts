/**
 * The local platform's side of the provisioner, as docker/backends and kubernetes/backends are
 * theirs: the worker backend that runs each build's worker as a child process of the
 * provisioner, its standby workers, and the command and environment those processes get. The
 * worker's steps run on packages/local/executor.
 *
 * There is no discovery half: the aggregator finds local workers by asking the provisioner
 * (`WHARF_DISCOVERY=provisioner`), which it can for every backend, so local workers carry no
 * labels of their own for a directory to read.
 */
export { StandbyWorkers, type StandbyWorkersOptions } from "./standby-workers.js";
export { LocalBackend, type LocalBackendOptions } from "./worker-backend.js";
export { defaultWorkerCommand, inheritedEnv } from "./worker-command.js";
