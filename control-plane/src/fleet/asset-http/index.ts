export type { AssetHandlerDeps, BlobReader, ScreenBlobHandlerDeps } from "./handler.ts";
export { blobReaderFrom, createAssetHandler, createScreenBlobHandler } from "./handler.ts";
