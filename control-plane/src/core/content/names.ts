import { Code, ConnectError } from "@connectrpc/connect";
import { requireName, stripControlCharacters } from "../../platform/validation.ts";

/**
 * The file name as uploaded, made harmless: path components (`/` and `\`, hence `../`) and
 * control characters removed, at most 255 characters. INVALID_ARGUMENT when nothing is left.
 */
export function sanitizeFileName(raw: string): string {
  const last = raw.split(/[/\\]/).pop() ?? "";
  const cleaned = stripControlCharacters(last).replace(/^\.+/, "").slice(0, 255).trim();
  if (!cleaned) {
    throw new ConnectError(
      `file_name "${stripControlCharacters(raw).slice(0, 64)}" has no usable file name; send e.g. "clip.mp4"`,
      Code.InvalidArgument,
    );
  }
  return cleaned;
}

/** The display name: the given one, or the file name without its extension. */
export function displayName(name: string, fileName: string): string {
  const base = name.trim() ? stripControlCharacters(name) : fileName.replace(/\.[^.]*$/, "") || fileName;
  return requireName(base.slice(0, 200), "name");
}
