export type { AssetHandlerDeps, BlobReader } from "./handler.ts";
export { blobReaderFrom, createAssetHandler, parseRange } from "./handler.ts";
