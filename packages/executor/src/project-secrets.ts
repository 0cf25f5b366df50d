/** The wharf instance and project of a build: they name the Secrets its steps' `secretName` means. */
export interface ProjectSecrets {
  instance?: string;
  projectId?: string;
}

/**
 * The Secret a step's `secretName` names, as wharf-cmd names it:
 * `wharf-<instance>-project-<projectId>-secretname-<secretName>` (wharf-cmd v0.9.1
 * pkg/steps/container.go:113-117) when the build's instance and project are known, else the
 * name as written (a build started by hand). Every backend reads Secrets by this name: Kubernetes
 * from its API, the Docker executor from its secrets directory.
 */
export function projectSecretName(project: ProjectSecrets, secretName: string): string {
  return project.instance && project.projectId
    ? `wharf-${project.instance}-project-${project.projectId}-secretname-${secretName}`
    : secretName;
}
