import { setting } from "@wharf/config/settings";
import { DEFAULT_CACHE_MAX_BYTES } from "@wharf/executor";

/**
 * The worker's own settings: what an operator configures, beyond the provisioner → worker
 * contract (@wharf/proto/worker-env, which the provisioner writes for each build). The
 * provisioner passes the executors' ones on to the workers it starts, naming them from here
 * (`@wharf/worker-service/settings` loads nothing else); the CRI and Kubernetes executors
 * declare theirs in their own packages.
 */

/** The default branch a branch without a cache starts from (WHARF_DEFAULT_BRANCH), when not set. */
export const DEFAULT_BRANCH = "main";

/**
 * WHARF_DOCKER_NETWORK, the network of the docker executor's steps (containers and image
 * builds); also `wharf run --backend docker`'s.
 * - `build` (the default): a user-defined bridge network of the build's own, labelled and
 *   named like its workspace volume (`wharf-<build ref>-network`); all steps of the build join
 *   it and reach each other by step name; it is removed with the build (and by the leftovers
 *   sweep after a crash). Steps do not share the worker's loopback: what listens on 127.0.0.1
 *   of the engine's host (provisioner, aggregator, Postgres, this worker) is out of their reach.
 *   What listens on all addresses (0.0.0.0) of that host stays reachable through the network's
 *   gateway address, as from any bridge network: bind to 127.0.0.1, or drop what arrives from
 *   the engine's bridge interfaces (Docker: `br-*`) in the host firewall's input chain.
 *   An engine that cannot create a bridge network fails the build's setup, saying to set:
 * - `none`: no network at all;
 * - `host`: the engine host's network, explicit opt-in only (logged as a warning): steps
 *   reach every port of that machine, this worker's gRPC port included;
 * - any other value: the name of an existing network, used as is (not created nor removed).
 */
export const DEFAULT_DOCKER_NETWORK = "build";

export const WORKER_SETTINGS = {
  stopGrace: setting.duration("WHARF_STOP_GRACE", {
    default: 3000,
    doc: "a cancelled step's SIGTERM → SIGKILL",
  }),
  idleTimeout: setting.duration("WHARF_WORKER_IDLE_TIMEOUT", {
    default: 0,
    doc: "after the build finished, exit this long after the last stream closed; 0: wait for Release or SIGTERM",
  }),
  dockerNetwork: setting.text("WHARF_DOCKER_NETWORK", {
    default: DEFAULT_DOCKER_NETWORK,
    doc: "network of the docker executor's steps: build (a bridge network of the build's own), none, host (explicit opt-in: steps reach every port of the engine's host), or an existing network's name",
  }),
  registryUrl: setting.text("WHARF_REGISTRY_URL", {
    doc: "registry host[:port] (as in image names) that the docker executor's `docker` steps push to; unset: they build without pushing",
  }),
  registryUser: setting.text("WHARF_REGISTRY_USER", { doc: "user of WHARF_REGISTRY_URL" }),
  registryPassword: setting.text("WHARF_REGISTRY_PASSWORD", {
    secret: true,
    doc: "password of WHARF_REGISTRY_URL, masked in build logs; never passed to Kubernetes pods (whose spec would hold it)",
  }),
  secretsDir: setting.text("WHARF_SECRETS_DIR", {
    doc: "the docker executor's stand-in for Kubernetes Secrets, `<dir>/<secret>/<key>`: secretName, secretArgs and a docker step's registry `secret`; unset: those are warned about and ignored",
  }),
  appendCertFile: setting.text("WHARF_APPEND_CERT_FILE", {
    doc: "the PEM certificate a docker step's `append-cert: true` adds to its image (wharf-cmd's root.crt); unset: warned about and ignored",
  }),
  cacheDir: setting.text("WHARF_CACHE_DIR", {
    defaultDoc: "<WHARF_DATA_DIR>/caches",
    doc: "the local executor's step-cache store",
  }),
  cacheMaxBytes: setting.int("WHARF_CACHE_MAX_BYTES", {
    default: DEFAULT_CACHE_MAX_BYTES,
    min: 0,
    doc: "budget of the step caches (local directory, the engine's cache volumes, the Kubernetes cache claim); least recently used ones go beyond it",
  }),
  defaultBranch: setting.text("WHARF_DEFAULT_BRANCH", {
    default: DEFAULT_BRANCH,
    doc: "the branch whose step caches a branch without its own starts from (the build request does not carry the project's default branch)",
  }),
};
