import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Transport } from "@connectrpc/connect";
import { listBootFiles, type Runner, readBootFile, writeBootFiles } from "../bootpart/index.ts";
import { pairingChecklist } from "../checklist/index.ts";
import {
  createEnrollmentKey,
  type EnrollmentKeyInfo,
  keyByName,
  keysJson,
  keyTable,
  listEnrollmentKeys,
  revokeEnrollmentKey,
} from "../enroll/index.ts";
import { type ImagerDevice, imagerEntry, imagerRepository } from "../imager/index.ts";
import { renderBootFiles, type SiteSettings, systemSettingsSchema } from "../site/index.ts";

/** The outside world of the CLI, passed in so tests run it in-process. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly runner: Runner;
  /** Makes a Connect transport for a control-plane URL (HTTP/1.1 or HTTP/2 with TLS in production). */
  readonly transport: (baseUrl: string) => Transport;
}

/** A usage error: printed with the usage text, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Usage text of the CLI. */
export const usage = `Usage: node provisioning/src/cli.ts <command> [options]

Commands
  write-config      write a site's avtech.toml + avtech-system.toml (+ CA) into an image or a folder
                      --image <disk.img>   a raw built image (not .img.xz): edited without root (mtools)
                      --out <folder>       e.g. the flashed card's boot partition as mounted on your PC
                      site options (below)
  show-config       print the site files on an image's boot partition: --image <disk.img>
  checklist         print the installer's checklist for a site: site options
  create-enrollment-key
                    create a key through the control plane (FleetService.CreateEnrollmentKey)
                      --url <control plane URL> --name <site name> [--group <id>] [--max-uses <n>]
                      [--expires-days <n>]   API token in AVTECH_API_TOKEN (admin role)
  list-enrollment-keys
                    list the tenant's keys, newest first (never their secrets)
                      --url <control plane URL> [--json]   API token in AVTECH_API_TOKEN (admin role)
  revoke-enrollment-key
                    stop a key from enrolling more screens (screens it enrolled keep working)
                      --url <control plane URL> --id <key id> | --name <key name>
                      (--name only when exactly one key that is not revoked has it)
                      API token in AVTECH_API_TOKEN (admin role)
  imager-entry      print a Raspberry Pi Imager repository JSON for a built image
                      --image <x.img.xz> --raw <x.img> --url <download URL> --name <text>
                      [--description <text>] [--device pi4-64bit|pi5-64bit ...] [--out <file.json>]

Site options
  --url <https://…>            control plane URL (required)
  --enrollment-key <key>       join the tenant at once; without it the screen shows a pairing code
  --ca <file.pem>              private CA of the control plane's TLS certificate
  --timezone <Area/City>       schedule time zone, e.g. Europe/Madrid
  --hostname-pattern <p>       e.g. lobby-{serial} (default avtech-{serial})
  --wifi-ssid <name> --wifi-country <CC>   Wi-Fi; passphrase in AVTECH_WIFI_PSK (kept out of shell history)
  --ssh --ssh-key <file.pub>   enable SSH for root with these public keys (repeat --ssh-key)
`;

const siteOptions = {
  url: { type: "string" },
  "enrollment-key": { type: "string" },
  ca: { type: "string" },
  timezone: { type: "string" },
  "hostname-pattern": { type: "string" },
  "wifi-ssid": { type: "string" },
  "wifi-country": { type: "string" },
  ssh: { type: "boolean" },
  "ssh-key": { type: "string", multiple: true },
} as const;

type SiteValues = {
  url?: string | undefined;
  "enrollment-key"?: string | undefined;
  ca?: string | undefined;
  timezone?: string | undefined;
  "hostname-pattern"?: string | undefined;
  "wifi-ssid"?: string | undefined;
  "wifi-country"?: string | undefined;
  ssh?: boolean | undefined;
  "ssh-key"?: string[] | undefined;
};

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new UsageError(`missing --${flag}`);
  return value;
}

async function siteFrom(values: SiteValues, env: CliIo["env"]): Promise<SiteSettings> {
  const sshKeys = await Promise.all((values["ssh-key"] ?? []).map(async (f) => (await readFile(f, "utf8")).trim()));
  const ssid = values["wifi-ssid"];
  const system = systemSettingsSchema.parse({
    hostname: values["hostname-pattern"],
    ssh: values.ssh ?? false,
    ssh_authorized_keys: sshKeys,
    wifi:
      ssid === undefined
        ? undefined
        : { ssid, psk: env.AVTECH_WIFI_PSK, country: required(values["wifi-country"], "wifi-country") },
  });
  if (system.ssh && system.ssh_authorized_keys.length === 0) {
    throw new UsageError("--ssh needs at least one --ssh-key <file.pub>: the image has no passwords");
  }
  return {
    controlPlaneUrl: required(values.url, "url"),
    caCertPem: values.ca === undefined ? undefined : await readFile(values.ca, "utf8"),
    enrollmentKey: values["enrollment-key"],
    timezone: values.timezone,
    system,
  };
}

async function writeConfig(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...siteOptions, image: { type: "string" }, out: { type: "string" } },
    strict: true,
  });
  if ((values.image === undefined) === (values.out === undefined)) {
    throw new UsageError("give exactly one of --image <disk.img> or --out <folder>");
  }
  const files = renderBootFiles(await siteFrom(values, io.env));
  if (values.image !== undefined) {
    await writeBootFiles(values.image, files, io.runner);
    io.out(`wrote ${files.map((f) => f.name).join(", ")} into the boot partition of ${values.image}\n`);
  } else {
    const dir = values.out as string;
    await mkdir(dir, { recursive: true });
    for (const file of files) await writeFile(join(dir, file.name), file.content);
    io.out(`wrote ${files.map((f) => f.name).join(", ")} to ${dir}: copy them onto the card's boot partition\n`);
  }
}

async function showConfig(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({ args, options: { image: { type: "string" } }, strict: true });
  const image = required(values.image, "image");
  const names = await listBootFiles(image, io.runner);
  for (const name of ["avtech.toml", "avtech-system.toml"]) {
    if (!names.some((n) => n.toLowerCase() === name)) {
      io.out(`# ${name}: missing\n`);
      continue;
    }
    io.out(`# ${name}\n${await readBootFile(image, name, io.runner)}\n`);
  }
}

async function checklist(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({ args, options: siteOptions, strict: true });
  io.out(pairingChecklist(await siteFrom(values, io.env)));
}

/** The admin API token from AVTECH_API_TOKEN (kept out of shell history and `ps`). */
function apiToken(io: CliIo): string {
  const token = io.env.AVTECH_API_TOKEN;
  if (token === undefined || token === "") {
    throw new UsageError("set AVTECH_API_TOKEN to an API token with the admin role (console → Settings → API tokens)");
  }
  return token;
}

async function enrollmentKey(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      name: { type: "string" },
      group: { type: "string", default: "" },
      "max-uses": { type: "string", default: "0" },
      "expires-days": { type: "string" },
    },
    strict: true,
  });
  const token = apiToken(io);
  const maxUses = Number(values["max-uses"]);
  if (!Number.isInteger(maxUses) || maxUses < 0) throw new UsageError("--max-uses must be a whole number ≥ 0");
  const days = values["expires-days"] === undefined ? undefined : Number(values["expires-days"]);
  if (days !== undefined && !(days > 0)) throw new UsageError("--expires-days must be a positive number");
  const key = await createEnrollmentKey(io.transport(required(values.url, "url")), token, {
    name: required(values.name, "name"),
    groupId: values.group,
    maxUses,
    expiresAt: days === undefined ? undefined : new Date(Date.now() + days * 86_400_000),
  });
  io.out(`enrollment key ${key.id} (shown once, keep it safe):\n${key.secret}\n`);
}

async function listKeys(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { url: { type: "string" }, json: { type: "boolean", default: false } },
    strict: true,
  });
  const token = apiToken(io);
  const keys = await listEnrollmentKeys(io.transport(required(values.url, "url")), token);
  io.out(values.json ? keysJson(keys) : keyTable(keys));
}

async function revokeKey(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { url: { type: "string" }, id: { type: "string" }, name: { type: "string" } },
    strict: true,
  });
  if ((values.id === undefined) === (values.name === undefined)) {
    throw new UsageError("give exactly one of --id <key id> or --name <key name>");
  }
  const token = apiToken(io);
  const transport = io.transport(required(values.url, "url"));
  let id = values.id;
  if (values.name !== undefined) {
    const name = required(values.name, "name");
    const found = keyByName(await listEnrollmentKeys(transport, token), name);
    const ids = (keys: readonly EnrollmentKeyInfo[]) => keys.map((k) => k.id).join(", ");
    switch (found.type) {
      case "Found":
        id = found.key.id;
        break;
      case "NotFound":
        throw new Error(`no enrollment key is named ${JSON.stringify(name)}: list-enrollment-keys shows the names`);
      case "AllRevoked":
        throw new Error(`every enrollment key named ${JSON.stringify(name)} is already revoked (${ids(found.keys)})`);
      case "Ambiguous":
        throw new Error(
          `${found.keys.length} enrollment keys that are not revoked are named ${JSON.stringify(name)} ` +
            `(${ids(found.keys)}): revoke one with --id <key id>`,
        );
    }
  }
  const key = await revokeEnrollmentKey(transport, token, required(id, "id"));
  const since = key.revokedAt === undefined ? "" : ` since ${key.revokedAt.toISOString()}`;
  io.out(
    `enrollment key ${key.id} (${JSON.stringify(key.name)}) is revoked${since}: it enrolls no more screens, ` +
      "and the screens it already enrolled keep working\n",
  );
}

async function imager(args: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      image: { type: "string" },
      raw: { type: "string" },
      url: { type: "string" },
      name: { type: "string" },
      description: { type: "string", default: "AVTech digital-signage player" },
      device: { type: "string", multiple: true },
      out: { type: "string" },
    },
    strict: true,
  });
  const devices = (values.device ?? ["pi4-64bit"]).map((d) => {
    if (d !== "pi4-64bit" && d !== "pi5-64bit") throw new UsageError(`unknown --device ${d}: pi4-64bit or pi5-64bit`);
    return d satisfies ImagerDevice;
  });
  const entry = await imagerEntry({
    name: required(values.name, "name"),
    description: values.description,
    url: required(values.url, "url"),
    compressedPath: required(values.image, "image"),
    rawPath: required(values.raw, "raw"),
    devices,
    releaseDate: new Date(),
  });
  const json = `${JSON.stringify(imagerRepository([entry]), null, 2)}\n`;
  if (values.out === undefined) io.out(json);
  else await writeFile(values.out, json);
}

const commands: Record<string, (args: string[], io: CliIo) => Promise<void>> = {
  "write-config": writeConfig,
  "show-config": showConfig,
  checklist,
  "create-enrollment-key": enrollmentKey,
  "list-enrollment-keys": listKeys,
  "revoke-enrollment-key": revokeKey,
  "imager-entry": imager,
};

/** Runs one CLI command. Throws {@link UsageError} for bad arguments and Error for failures. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<void> {
  const [command, ...rest] = argv;
  const handler = command === undefined ? undefined : commands[command];
  if (handler === undefined) {
    throw new UsageError(command === undefined ? "no command given" : `unknown command "${command}"`);
  }
  await handler(rest, io);
}
