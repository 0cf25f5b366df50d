/**
 * The provisioner's own test fixture for the tests of its backends in other packages
 * (packages/local/backends and packages/docker/backends run a provisioner on their backend),
 * kept out of the production index. The files stay in test/, beside the provisioner's tests that use them.
 */
export {
  api,
  startTestProvisioner,
  type TestProvisioner,
  type TestProvisionerOptions,
  waitFor,
  wharfApiQuery,
} from "../test/fixture.js";
export {
  FAILING_PIPELINE,
  PASSING_PIPELINE,
  PIPELINE_HEADER,
  SLEEPING_PIPELINE,
} from "../test/git-repo.js";
