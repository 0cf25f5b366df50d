// The plan types live with the Executor interface (@wharf/executor), which runs them; the
// YAML package compiles a `.wharf-ci.yml` to them.
export type * from "@wharf/executor/plan";
