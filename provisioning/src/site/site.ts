import { stringify } from "smol-toml";
import { z } from "zod";

/** Where the image's boot partition is mounted on the screen. */
export const bootMountPath = "/boot/firmware";
/** The player's settings file on the boot partition (owned by the player, see player/README.md). */
export const playerConfigName = "avtech.toml";
/** The system settings file on the boot partition (hostname, Wi-Fi, SSH), applied by avtech-boot-config. */
export const systemConfigName = "avtech-system.toml";
/** The site's CA certificate on the boot partition, when the control plane uses a private CA. */
export const caCertName = "avtech-ca.pem";

const hostnamePattern = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9-]|\{serial\})*$/,
    "use lower-case letters, digits, '-' and the placeholder {serial}, starting with a letter or digit",
  )
  .max(40);

const wifiSchema = z
  .object({
    /** Network name. */
    ssid: z.string().min(1).max(32),
    /** WPA2/WPA3 passphrase (8..63 characters); omit for an open network. */
    psk: z.string().min(8).max(63).optional(),
    /** ISO 3166 country code: sets the legal Wi-Fi channels. */
    country: z.string().regex(/^[A-Z]{2}$/, "use a two-letter country code such as ES or DE"),
  })
  .strict();

/** The system settings file (avtech-system.toml) as validated on the screen and by the CLI. */
export const systemSettingsSchema = z
  .object({
    /** Host name pattern; {serial} becomes the last 8 hex digits of the board's serial number. */
    hostname: hostnamePattern.default("avtech-{serial}"),
    /** Start SSH (keys made on the data partition on first use). */
    ssh: z.boolean().default(false),
    /** Public keys allowed to log in as root when ssh = true. */
    ssh_authorized_keys: z
      .array(z.string().regex(/^(ssh|ecdsa)-\S+ \S+/, "paste a full OpenSSH public key"))
      .default([]),
    wifi: wifiSchema.optional(),
  })
  .strict();

/** Validated system settings. */
export type SystemSettings = z.infer<typeof systemSettingsSchema>;

/** Everything an installer decides for one site; rendered into the boot partition's files. */
export interface SiteSettings {
  readonly controlPlaneUrl: string;
  /** PEM text of a private CA, copied to the boot partition; undefined for a public CA. */
  readonly caCertPem: string | undefined;
  /** An enrollment key (screens join the tenant at once) or undefined for pairing with a code. */
  readonly enrollmentKey: string | undefined;
  /** IANA time zone for schedules, e.g. "Europe/Madrid"; undefined keeps the control plane's. */
  readonly timezone: string | undefined;
  readonly system: SystemSettings;
}

/** One file for the boot partition. */
export interface BootFile {
  readonly name: string;
  readonly content: string;
}

/** A site setting that cannot be used, with what to change. */
export class SiteError extends Error {
  override name = "SiteError";
}

/** Checks the site's settings that the player's own parser would only reject on the screen. */
export function checkSite(site: SiteSettings): void {
  let url: URL;
  try {
    url = new URL(site.controlPlaneUrl);
  } catch {
    throw new SiteError(
      `control plane URL "${site.controlPlaneUrl}" is not a URL: use e.g. https://signage.example.com`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new SiteError(
      `control plane URL "${site.controlPlaneUrl}" must start with https:// (or http:// on a lab network)`,
    );
  }
  if (site.caCertPem !== undefined && !site.caCertPem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new SiteError("the CA file is not a PEM certificate (it must contain -----BEGIN CERTIFICATE-----)");
  }
  if (site.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: site.timezone });
    } catch {
      throw new SiteError(`time zone "${site.timezone}" is not an IANA zone name (e.g. "Europe/Madrid")`);
    }
  }
  const system = systemSettingsSchema.safeParse(site.system);
  if (!system.success) {
    const problems = system.error.issues.map((i) => `${i.path.join(".") || "system"}: ${i.message}`).join("; ");
    throw new SiteError(`system settings: ${problems}`);
  }
}

/** The files a site puts on the boot partition: avtech.toml, avtech-system.toml and the CA if any. */
export function renderBootFiles(site: SiteSettings): BootFile[] {
  checkSite(site);
  const player: Record<string, unknown> = { control_plane_url: site.controlPlaneUrl };
  if (site.caCertPem !== undefined) player.ca_cert_path = `${bootMountPath}/${caCertName}`;
  if (site.enrollmentKey !== undefined) player.enrollment_key = site.enrollmentKey;
  else player.pairing = true;
  if (site.timezone !== undefined) player.timezone = site.timezone;
  const files: BootFile[] = [
    {
      name: playerConfigName,
      content: `# AVTech player settings for this site, written by the provisioning CLI.\n${stringify(player)}\n`,
    },
    {
      name: systemConfigName,
      content: `# AVTech system settings for this site, written by the provisioning CLI.\n${stringify(stripUndefined(site.system))}\n`,
    },
  ];
  if (site.caCertPem !== undefined) files.push({ name: caCertName, content: site.caCertPem });
  return files;
}

function stripUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
