import type { JsonValue } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJson } from "@connectrpc/connect/protocol-connect";

/**
 * Downloads `path` with the session token as the file `fileName`. A link cannot send an
 * authorization header and a token in the URL would end up in logs and history, so the CSV is
 * fetched and handed to the browser as a blob. A refusal rejects with the server's error (its
 * Connect JSON: the message says what to change).
 */
export async function downloadCsv(baseUrl: string, path: string, token: string | undefined, fileName: string) {
  const res = await fetch(new URL(path, baseUrl), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!res.ok) {
    const fallback = new ConnectError(
      `the server answered HTTP ${res.status} to the export`,
      codeFromHttpStatus(res.status),
    );
    let body: JsonValue = null;
    try {
      body = (await res.json()) as JsonValue;
    } catch {
      // Not the Connect error JSON (a proxy's page): the HTTP status says enough.
    }
    throw body !== null && typeof body === "object" ? errorFromJson(body, undefined, fallback) : fallback;
  }
  const url = URL.createObjectURL(await res.blob());
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = fileName;
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // Not at once: revoking the URL right after the click can cancel the download it started.
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
