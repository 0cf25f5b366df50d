/*
 * Pipelines the provisioner tests build (in repositories made with testkit's makePipelineRepo).
 * Image names are the local busybox image: the docker executor runs them, the local executor
 * ignores them.
 */

// What wharf-api's query string carries (VARS, ENVIRONMENT=dev) must be declared.
export const PIPELINE_HEADER = `inputs:
  - name: greeting
    type: string
    default: hello
  - name: count
    type: number
    default: 1
environments:
  dev:
    TARGET: dev.example.invalid
`;

/** Passes only if VARS and ENVIRONMENT reached the steps. */
export const PASSING_PIPELINE = `${PIPELINE_HEADER}
build:
  greet:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo "\${greeting} x\${count} to \${TARGET}"
        - test "\${greeting}-\${count}-\${TARGET}" = "hi-3-dev.example.invalid"
`;

export const FAILING_PIPELINE = `${PIPELINE_HEADER}
build:
  fail:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo "about to fail"
        - exit 3
`;

/** Keeps running (a step that sleeps) until the worker is stopped. */
export const SLEEPING_PIPELINE = `${PIPELINE_HEADER}
build:
  wait:
    container:
      image: wharf-test/busybox:latest
      cmds:
        - echo started
        - sleep 300
`;
