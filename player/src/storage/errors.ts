/** System-error type guards, in one place (conventions rule 12). */

/** A Node system error with its `code`. */
export interface SystemError extends Error {
  code: string;
}

/** True for a Node system error (an `Error` with a string `code`). */
export function isSystemError(error: unknown): error is SystemError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === "string";
}

/** True when a path does not exist. */
export function isENOENT(error: unknown): boolean {
  return isSystemError(error) && error.code === "ENOENT";
}

/** True when a path already exists. */
export function isEEXIST(error: unknown): boolean {
  return isSystemError(error) && error.code === "EEXIST";
}

/** True when the filesystem is full. */
export function isENOSPC(error: unknown): boolean {
  return isSystemError(error) && error.code === "ENOSPC";
}

const diskCodes = new Set(["ENOSPC", "EIO", "EROFS", "EDQUOT", "EACCES", "EPERM", "EMFILE", "ENFILE"]);

/** True for a local filesystem failure (full, read-only, I/O error), as opposed to a network one. */
export function isDiskError(error: unknown): boolean {
  return isSystemError(error) && diskCodes.has(error.code);
}

/** True for an abort (AbortSignal fired), which callers treat as a normal exit. */
export function isAbortError(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === "AbortError" || (isSystemError(error) && error.code === "ABORT_ERR"))
  );
}

/** The first line of an error's message, for logs and reports. */
export function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}
