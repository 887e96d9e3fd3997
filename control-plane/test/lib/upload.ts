import { open } from "node:fs/promises";
import type { UploadVideoRequestSchema } from "@avtech/proto/gen/avtech/content/v1/content_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";

type UploadMessage = MessageInitShape<typeof UploadVideoRequestSchema>;

/** Upload messages for a file: metadata, then 256 KiB chunks. */
export async function* uploadMessages(
  path: string,
  metadata: { fileName: string; name?: string; sizeBytes?: bigint; sha256?: string },
  chunkSize = 256 * 1024,
): AsyncGenerator<UploadMessage> {
  yield { part: { case: "metadata", value: metadata } };
  const file = await open(path, "r");
  try {
    for (;;) {
      const buffer = Buffer.alloc(chunkSize);
      const { bytesRead } = await file.read(buffer, 0, chunkSize);
      if (bytesRead === 0) break;
      yield { part: { case: "chunk", value: buffer.subarray(0, bytesRead) } };
    }
  } finally {
    await file.close();
  }
}

/** Upload messages for in-memory bytes. */
export async function* bytesMessages(
  bytes: Uint8Array,
  metadata: { fileName: string; name?: string; sizeBytes?: bigint },
  chunkSize = 256 * 1024,
): AsyncGenerator<UploadMessage> {
  yield { part: { case: "metadata", value: metadata } };
  for (let offset = 0; offset < bytes.byteLength; offset += chunkSize) {
    yield { part: { case: "chunk", value: bytes.subarray(offset, offset + chunkSize) } };
  }
}
