/** Base class of every error the result store throws on purpose. */
export class ResultStoreError extends Error {
  override readonly name: string = "ResultStoreError";
}

/** A caller passed something the store cannot take (bad id, unknown status, empty name). */
export class ResultStoreArgumentError extends ResultStoreError {
  override readonly name = "ResultStoreArgumentError";
}

/** `openArtifact` (or a lookup) named an artifact id the store does not have. */
export class ArtifactNotFoundError extends ResultStoreError {
  override readonly name = "ArtifactNotFoundError";
  readonly code = "NOT_FOUND";
  constructor(readonly artifactId: number) {
    super(`artifact ${artifactId} not found`);
  }
}

/** Something was appended after `finish()`: followers have already been told the build is over. */
export class BuildFinishedError extends ResultStoreError {
  override readonly name = "BuildFinishedError";
}

/** The store was closed (before the build finished) while it was used or followed. */
export class ResultStoreClosedError extends ResultStoreError {
  override readonly name = "ResultStoreClosedError";
}

/** Files on disk are damaged beyond the torn tail that reopening repairs. */
export class ResultStoreCorruptError extends ResultStoreError {
  override readonly name = "ResultStoreCorruptError";
}

/** Writing to disk failed (disk full, I/O error); the store refuses further writes. */
export class ResultStoreWriteError extends ResultStoreError {
  override readonly name = "ResultStoreWriteError";
}
