import { chmod } from "node:fs/promises";
import { z } from "zod";
import { readFileIfExists, writeFileAtomic } from "./atomic.ts";

/** The credentials a screen keeps after registration. */
export interface StoredCredentials {
  deviceId: string;
  deviceToken: string;
  screenName: string;
}

const credentialsSchema = z.object({
  deviceId: z.string().min(1),
  deviceToken: z.string().min(1),
  screenName: z.string(),
});

/** Writes the credentials atomically with mode 0600 (the token is a bearer secret). */
export async function saveCredentials(path: string, credentials: StoredCredentials): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(credentials)}\n`, { mode: 0o600 });
  // The umask can strip bits from the create mode but never adds them; chmod makes 0600 exact.
  await chmod(path, 0o600);
}

/** Reads the stored credentials; undefined when the screen has not registered yet. */
export async function loadCredentials(path: string): Promise<StoredCredentials | undefined> {
  const bytes = await readFileIfExists(path);
  if (!bytes) return undefined;
  const text = bytes.toString("utf8");
  const parsed = credentialsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path}: corrupt credentials; delete the file to register the screen again`);
  return parsed.data;
}
