import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Turns any failure into a sentence for a person: the server's own message (which says what to
 * fix) behind a short lead-in saying what kind of problem it is.
 */
export function describeError(err: unknown): string {
  const e = ConnectError.from(err);
  const detail = e.rawMessage.trim();
  const lead = leadIn(e.code);
  if (!detail) return lead;
  return lead ? `${lead}: ${detail}` : detail;
}

function leadIn(code: Code): string {
  switch (code) {
    case Code.InvalidArgument:
      return "";
    case Code.PermissionDenied:
      return "You are not allowed to do this";
    case Code.Unauthenticated:
      return "Please sign in again";
    case Code.NotFound:
      return "Not found";
    case Code.AlreadyExists:
      return "Already exists";
    case Code.FailedPrecondition:
      return "Not possible right now";
    case Code.Aborted:
      return "Someone else changed this meanwhile; reload and try again";
    case Code.ResourceExhausted:
      return "Limit reached";
    case Code.Unavailable:
      return "The server cannot be reached";
    case Code.DeadlineExceeded:
      return "The server took too long";
    default:
      return "Something went wrong";
  }
}
