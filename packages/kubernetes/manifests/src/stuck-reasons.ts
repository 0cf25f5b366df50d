/**
 * Container waiting reasons that do not resolve by themselves with restartPolicy Never:
 * the kubelet retries pulls forever, so without this a missing image is a build that
 * hangs. Step pods and worker pods both treat them as "will not start".
 */
export const STUCK_WAITING_REASONS: ReadonlySet<string> = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
  "CrashLoopBackOff",
  "RunContainerError",
]);
