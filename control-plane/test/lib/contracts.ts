/**
 * Every service and RPC in the contracts, read from the generated descriptors of `@avtech/proto`
 * (each `*_pb.js` under its `gen/` folder), so a new .proto file or service is picked up with no
 * list to update here.
 */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  createRegistry,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";

/** The folder holding @avtech/proto's generated code. */
function generatedFolder(): string {
  // Any generated module locates the folder; the one chosen is the oldest contract.
  const known = fileURLToPath(import.meta.resolve("@avtech/proto/gen/avtech/auth/v1/auth_pb.js"));
  return join(dirname(known), "..", "..", "..");
}

/** Every generated file descriptor (the `file_*` export of every `*_pb.js`). */
export async function contractFiles(): Promise<DescFile[]> {
  const root = generatedFolder();
  const modules = (await readdir(root, { recursive: true })).filter((path) => path.endsWith("_pb.js")).sort();
  const files: DescFile[] = [];
  for (const path of modules) {
    const exports: Record<string, unknown> = await import(pathToFileURL(join(root, path)).href);
    for (const value of Object.values(exports)) {
      if (typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "file") {
        files.push(value as DescFile);
      }
    }
  }
  if (files.length === 0) throw new Error(`no generated descriptors under ${root}`);
  return files;
}

/** Every service of the contracts, by type name. */
export async function contractServices(): Promise<DescService[]> {
  const registry = createRegistry(...(await contractFiles()));
  const services: DescService[] = [];
  for (const type of registry) if (type.kind === "service") services.push(type);
  return services.sort((a, b) => a.typeName.localeCompare(b.typeName));
}

/** Every RPC of the contracts. */
export async function contractMethods(): Promise<DescMethod[]> {
  return (await contractServices()).flatMap((service) => service.methods);
}

/** A field that carries an object id: named `id`, `*_id` or `*_ids`. */
export function isIdField(field: DescField): boolean {
  return field.name === "id" || field.name.endsWith("_id") || field.name.endsWith("_ids");
}

/** One id-bearing field of a request, by its path of proto field names from the request message. */
export interface IdFieldPath {
  /** Proto field names joined with dots, e.g. `rule.target.screen_id`. */
  path: string;
  /** The fields from the request message down to the id field. */
  fields: DescField[];
}

/**
 * Every id-bearing field reachable from `message`: its own id fields and those of the message
 * fields it contains (singular, repeated or map values), recursively; a message type already on
 * the path is not entered again. Well-known types (google.protobuf.*) hold no ids.
 */
export function idFieldPaths(message: DescMessage, trail: DescField[] = [], seen: string[] = []): IdFieldPath[] {
  const found: IdFieldPath[] = [];
  for (const field of message.fields) {
    const fields = [...trail, field];
    if (
      isIdField(field) &&
      (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar"))
    ) {
      found.push({ path: fields.map((f) => f.name).join("."), fields });
      continue;
    }
    const nested =
      field.fieldKind === "message"
        ? field.message
        : field.fieldKind === "list" && field.listKind === "message"
          ? field.message
          : field.fieldKind === "map" && field.mapKind === "message"
            ? field.message
            : undefined;
    if (!nested || nested.typeName.startsWith("google.protobuf.") || seen.includes(nested.typeName)) continue;
    found.push(...idFieldPaths(nested, fields, [...seen, message.typeName]));
  }
  return found;
}
