import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";

/** An S3 emulator (s3rver) on loopback with one bucket, its objects in a temp folder. */
export interface S3Emulator {
  endpoint: string;
  bucket: string;
  /** Stops answering (the store is "down"); its objects stay. */
  stop(): Promise<void>;
  /** Answers again on the same port with the same objects. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/**
 * Starts s3rver, the stand-in for a production S3 store (none installs on this machine: see the
 * README's "Running more than one control plane").
 */
export async function startS3Emulator(): Promise<S3Emulator> {
  const directory = await mkdtemp(join(tmpdir(), "avtech-s3-"));
  const bucket = "avtech-blobs";
  let port = 0;
  let server: S3rver | undefined;
  const start = async () => {
    server = new S3rver({
      address: "127.0.0.1",
      port,
      silent: true,
      directory,
      configureBuckets: [{ name: bucket }],
    });
    port = (await server.run()).port;
  };
  await start();
  const stop = async () => {
    await server?.close();
    server = undefined;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    stop,
    start,
    close: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
