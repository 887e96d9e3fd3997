import type { SiteSettings } from "../site/index.ts";

/** The installer's on-site checklist for one site, as plain text to print or paste into a work order. */
export function pairingChecklist(site: SiteSettings): string {
  const joining =
    site.enrollmentKey !== undefined
      ? [
          "[ ] 5. Joining: the screen joins the tenant by itself (enrollment key). Within a minute the screen shows",
          "       the standby slate, then content. In the console (Screens) it appears as online.",
        ]
      : [
          "[ ] 5. Pairing: the screen shows an 8-letter pairing code (letters only, no vowels). In the console,",
          "       Screens → Add screen, type the code within 15 minutes. Check that the hardware id shown in the",
          "       console matches the sticker/serial of this Pi before you confirm.",
        ];
  const wifi = site.system.wifi;
  return [
    `AVTech installation checklist — control plane ${site.controlPlaneUrl}`,
    "",
    "[ ] 1. Flash: write the image with Raspberry Pi Imager (Use custom, or the AVTech repository) or",
    "       `bmaptool copy avtech-….img.xz /dev/sdX`. Do not apply Imager's OS customisation.",
    "[ ] 2. Site files: run `node provisioning/src/cli.ts write-config --out <boot partition>` (or --image before",
    "       flashing) and check that avtech.toml and avtech-system.toml are on the card's boot partition.",
    wifi === undefined
      ? "[ ] 3. Network: plug in Ethernet (no Wi-Fi configured for this site)."
      : `[ ] 3. Network: Wi-Fi "${wifi.ssid}" (${wifi.country}) is configured; Ethernet works too.`,
    "[ ] 4. First boot: connect HDMI (HDMI 0 on a Pi 4/5, next to the power socket) before power. The first boot",
    "       grows the data partition and restarts once (up to 2 minutes); the screen is black or shows boot text.",
    ...joining,
    "[ ] 6. Verify: the console shows the screen online with the right name and group, publish the site's",
    "       playlist, and check the screen plays it. Pull the network cable: playback must continue.",
    "",
    "If something does not look right, see provisioning/README.md (What to do when …).",
    "",
  ].join("\n");
}
