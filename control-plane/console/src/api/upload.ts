import { type UploadVideoResponse, UploadVideoResponseSchema } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import {
  type UploadReleaseResponse,
  UploadReleaseResponseSchema,
} from "@avtech/proto/gen/avtech/update/v1/update_pb.js";
import { type DescMessage, fromJson, type JsonValue, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, errorFromJson } from "@connectrpc/connect/protocol-connect";

/**
 * Path of the plain-HTTP upload endpoint. ContentService.UploadVideo is a client stream, and
 * browsers cannot stream a request body over gRPC-Web (connect-web refuses client streaming), so
 * the control plane accepts the raw file here and runs the same ingest code path.
 * Contract (see console/README.md): `POST /v1/videos`, headers `authorization: Bearer <token>`,
 * `x-file-name: <encodeURIComponent(name)>`, `content-type`, `content-length`; body = the file.
 * 200 → JSON of UploadVideoResponse (protobuf JSON); errors → Connect error JSON `{code, message}`.
 */
export const uploadPath = "/v1/videos";

/** Options of one upload. */
export interface UploadOptions {
  baseUrl: string;
  token: string | undefined;
  /** Called with bytes sent so far and the total. */
  onProgress: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

/** Uploads one file with progress (XMLHttpRequest: fetch cannot report upload progress). */
export function uploadVideo(file: File, options: UploadOptions): Promise<UploadVideoResponse> {
  return postFile(
    uploadPath,
    { "x-file-name": encodeURIComponent(file.name), "content-type": file.type || "application/octet-stream" },
    file,
    UploadVideoResponseSchema,
    options,
  );
}

/**
 * Path of the OS release upload (UpdateService.UploadRelease is a client stream too): `POST
 * /v1/releases`, the bundle as the body, release notes in `x-release-notes`
 * (`encodeURIComponent`); 200 → JSON of UploadReleaseResponse, errors → Connect error JSON.
 */
export const releaseUploadPath = "/v1/releases";

/** Uploads one RAUC bundle with progress (admins only; the server checks its signature). */
export function uploadRelease(file: File, notes: string, options: UploadOptions): Promise<UploadReleaseResponse> {
  return postFile(
    releaseUploadPath,
    { "x-release-notes": encodeURIComponent(notes), "content-type": "application/octet-stream" },
    file,
    UploadReleaseResponseSchema,
    options,
  );
}

function postFile<S extends DescMessage>(
  path: string,
  headers: Record<string, string>,
  file: File,
  schema: S,
  options: UploadOptions,
): Promise<MessageShape<S>> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", new URL(path, options.baseUrl).toString());
    if (options.token) xhr.setRequestHeader("authorization", `Bearer ${options.token}`);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => options.onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ConnectError("the upload was interrupted (network error)", Code.Unavailable));
    xhr.onabort = () => reject(new ConnectError("upload cancelled", Code.Canceled));
    xhr.onload = () => {
      let body: JsonValue = null;
      try {
        body = JSON.parse(xhr.responseText) as JsonValue;
      } catch {
        // A proxy's HTML error page: fall back to the HTTP status below.
      }
      if (xhr.status === 200 && body !== null) {
        resolve(fromJson(schema, body, { ignoreUnknownFields: true }));
        return;
      }
      const fallback = new ConnectError(
        `the server answered HTTP ${xhr.status} to the upload`,
        codeFromHttpStatus(xhr.status),
      );
      reject(body !== null && typeof body === "object" ? errorFromJson(body, undefined, fallback) : fallback);
    };
    options.signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
