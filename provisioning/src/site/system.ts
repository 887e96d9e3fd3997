import { parse as parseToml, TomlError } from "smol-toml";
import { SiteError, type SystemSettings, systemSettingsSchema } from "./site.ts";

/** Parses the text of avtech-system.toml; throws {@link SiteError} naming the file, the key and the fix. */
export function parseSystemSettings(text: string, sourcePath: string): SystemSettings {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? ` at line ${error.line}, column ${error.column}` : "";
    throw new SiteError(`${sourcePath}: not valid TOML${where}: fix the syntax`, { cause: error });
  }
  const result = systemSettingsSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues
      .map((issue) => `  - ${issue.path.map(String).join(".") || "(top level)"}: ${issue.message}`)
      .join("\n");
    throw new SiteError(`${sourcePath}: invalid system settings:\n${problems}`);
  }
  return result.data;
}
