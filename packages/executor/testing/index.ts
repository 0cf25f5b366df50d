/**
 * What every Executor implementation's tests share, kept out of the production index: the
 * conformance suite (the behaviour every executor must have) and its build and step fixtures.
 */
export { type CacheConformanceTarget, runCacheConformance } from "./cache-conformance.js";
export { type ConformanceTarget, runExecutorConformance } from "./conformance.js";
export {
  containerStep,
  finish,
  makeBuild,
  OutputCollector,
  removeSource,
  runStep,
  type StepResult,
  withExecutorBuild,
} from "./step-fixtures.js";
