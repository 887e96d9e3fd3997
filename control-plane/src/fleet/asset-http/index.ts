export type { AssetHandlerDeps, BlobReader } from "./handler.ts";
export { blobReaderFrom, createAssetHandler } from "./handler.ts";
