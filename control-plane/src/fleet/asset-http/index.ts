export type { AssetHandlerDeps, AssetRedirect, BlobReader, ScreenBlobHandlerDeps } from "./handler.ts";
export { blobReaderFrom, createAssetHandler, createScreenBlobHandler } from "./handler.ts";
