export type { EnvironmentDef, PipelineDefinition, StageDef, StepDef } from "./definition.js";
export {
  type Diagnostic,
  formatDiagnostic,
  hasErrors,
  type Pos,
  type Severity,
  sortDiagnostics,
} from "./diagnostics.js";
export type { InputDef, InputType } from "./inputs.js";
export {
  type LoadedPipeline,
  type LoadOptions,
  loadPipeline,
  pipelineFileName,
  resolvePipelineFile,
} from "./load.js";
export type * from "./plan.js";
export { lintPipeline, type PlanOptions, type PlanResult, parsePipeline, planPipeline } from "./planner.js";
export { stepTypeNames } from "./step-types.js";
export { collectVariables, type ResolvedVariable, type VariableSet, type VarSource } from "./variables.js";
export {
  type BuildFacts,
  buildVarSource,
  envSecrets,
  envVarSource,
  gitVarSource,
  type HostVarOptions,
  hostVarSources,
  parseVarsFile,
  readGitFacts,
  readVarsFiles,
  repoFromRemote,
  varsFileName,
  varsFilePaths,
} from "./vars-sources.js";
export {
  referencedNames,
  type SubstituteResult,
  substitute,
  type VarLookup,
  type VarValue,
} from "./varsub.js";
export {
  DEFAULT_DOCKER_SECRET,
  defaultAppendCert,
  defaultDockerDestination,
} from "./wharf-defaults.js";
