import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DesiredStateSchema } from "@avtech/proto/gen/avtech/device/v1/state_pb.js";
import {
  RebootPolicy,
  UpdateFailureReason,
  UpdatePhase,
  type UpdateReport,
} from "@avtech/proto/gen/avtech/device/v1/update_pb.js";
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpGetter, statfsProbe } from "../../src/assets/index.ts";
import { systemClock } from "../../src/lib/index.ts";
import { classifyInstallError, createRaucCli, type Rauc, UpdateManager, UpdateStore } from "../../src/update/index.ts";
import { type AssetServer, startAssetServer } from "../lib/asset-server.ts";
import { FakeClips, FakeHealth, FakeRebooter } from "../lib/fake-rauc.ts";
import { makeBundle, makeSigningKeys, missingRaucTools, RaucSystem, type SigningKeys } from "../lib/rauc-system.ts";

const exec = promisify(execFile);

/**
 * The real RAUC 1.8 (Debian bookworm): bundles signed in the test with a development CA, a RAUC
 * service on a private D-Bus session bus with two file-backed slots and a custom bootloader
 * backend. This checks the CLI adapter's parsing and error mapping against RAUC's own output, and
 * runs the update module end to end: download, `rauc install`, "reboot" (the service restarted
 * on the other slot), health gate and `rauc status mark-good`, and a rollback.
 */
let dir: string;
let system: RaucSystem;
let rauc: Rauc;
let good: SigningKeys;
let other: SigningKeys;
let server: AssetServer;
const bundles: Record<"good" | "next" | "wrongCompatible" | "unknownSigner" | "tampered" | "garbage", string> = {
  good: "",
  next: "",
  wrongCompatible: "",
  unknownSigner: "",
  tampered: "",
  garbage: "",
};

beforeAll(async () => {
  const missing = await missingRaucTools();
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(", ")}: run scripts/setup.sh (Debian packages rauc squashfs-tools dbus-daemon openssl e2fsprogs)`,
    );
  }
  dir = await mkdtemp(join(tmpdir(), "avtech-rauc-"));
  good = await makeSigningKeys(join(dir, "keys"), "good");
  other = await makeSigningKeys(join(dir, "keys"), "other");
  const b = (name: string) => join(dir, `${name}.raucb`);
  bundles.good = await makeBundle(dir, b("good"), good, { compatible: "avtech-test", version: "2026.12.2" }, 1);
  bundles.next = await makeBundle(dir, b("next"), good, { compatible: "avtech-test", version: "2026.12.3" }, 2);
  bundles.wrongCompatible = await makeBundle(dir, b("wrong"), good, { compatible: "other-device", version: "1" }, 3);
  bundles.unknownSigner = await makeBundle(dir, b("unknown"), other, { compatible: "avtech-test", version: "1" }, 4);
  bundles.tampered = b("tampered");
  await copyFile(bundles.good, bundles.tampered);
  const bytes = await readFile(bundles.tampered);
  const at = Math.floor(bytes.length / 3);
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
  await writeFile(bundles.tampered, bytes);
  bundles.garbage = b("garbage");
  await writeFile(bundles.garbage, Buffer.alloc(100_000, 0x5a));
  system = await RaucSystem.create(join(dir, "system"), good.caCert, "avtech-test");
  await system.boot("A");
  rauc = createRaucCli({ env: system.env });
  server = await startAssetServer();
}, 60_000);

afterAll(async () => {
  await server?.close();
  await system?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("rauc info (no service needed)", () => {
  it("verifies a good bundle and refuses an unknown signer with the line the install mapping reads", async () => {
    const info = await exec("rauc", ["info", "--output-format=json", `--keyring=${good.caCert}`, bundles.good]);
    expect(JSON.parse(info.stdout)).toMatchObject({ compatible: "avtech-test", version: "2026.12.2" });
    const refused = await exec("rauc", ["info", `--keyring=${good.caCert}`, bundles.unknownSigner]).then(
      () => "accepted",
      (error: { stderr: string }) => error.stderr,
    );
    const line = refused.split("\n").find((l) => l.startsWith("signature verification failed")) ?? refused;
    expect(line).toBe("signature verification failed: Verify error: unable to get local issuer certificate");
    expect(classifyInstallError(line)).toBe("SIGNATURE_INVALID");
  });
});

describe("the RAUC CLI adapter against rauc 1.8", () => {
  it("reads the status: booted slot, primary, compatible", async () => {
    const status = await rauc.status();
    expect(status).toMatchObject({ compatible: "avtech-test", booted: "A", primary: "A" });
    expect(status.slots.map((s) => [s.name, s.bootname, s.class]).sort()).toEqual([
      ["rootfs.0", "A", "rootfs"],
      ["rootfs.1", "B", "rootfs"],
    ]);
  });

  it.each([
    [
      "wrongCompatible",
      "INCOMPATIBLE",
      "Installation error: Compatible mismatch: Expected 'avtech-test' but bundle manifest has 'other-device'",
    ],
    [
      "unknownSigner",
      "SIGNATURE_INVALID",
      "signature verification failed: Verify error: unable to get local issuer certificate",
    ],
    [
      "tampered",
      "SIGNATURE_INVALID",
      "signature verification failed: error:1700009E:CMS routines::verification failure",
    ],
    ["garbage", "INSTALL_FAILED", /^Invalid bundle format: /],
  ] as const)("maps RAUC's refusal of a %s bundle to %s", async (name, reason, message) => {
    const progress: number[] = [];
    const result = await rauc.install(bundles[name], (percent) => progress.push(percent));
    expect(result).toMatchObject({ type: "Failed", reason, message });
    expect(progress).toContain(0);
    expect((await rauc.status()).primary).toBe("A");
  });
});

describe("rauc status mark-active", () => {
  it("makes a slot the next boot through the bootloader backend, and refuses an unknown slot", async () => {
    await rauc.markActive("rootfs.1");
    expect((await rauc.status()).primary).toBe("B");
    await rauc.markActive("rootfs.0");
    expect((await rauc.status()).primary).toBe("A");
    expect(await readFile(join(system.dir, "boot", "calls.log"), "utf8")).toMatch(
      /set-primary B\n(.*\n)*set-primary A\n/,
    );
    await expect(rauc.markActive("rootfs.9")).rejects.toThrow(/^rauc status mark-active rootfs.9 failed \(exit 1\)/);
  });
});

describe("OS update end to end with the real RAUC", () => {
  const reports: UpdateReport[] = [];
  const rebooter = new FakeRebooter();
  const health = new FakeHealth();
  const clips = new FakeClips();
  let dataDir: string;

  function manager(bootId: string): UpdateManager {
    return new UpdateManager({
      rauc,
      rebooter,
      health,
      clips,
      store: new UpdateStore(join(dataDir, "update.json")),
      dir: dataDir,
      space: statfsProbe,
      http: createHttpGetter(),
      resolveUrl: (url) => new URL(url, server.baseUrl),
      reporter: { updateReport: (r) => reports.push(r) },
      clock: systemClock,
      logger: pino({ level: "silent" }),
      bootId,
      imageVersionFallback: async () => "2026.12.1",
      timezoneOf: () => "UTC",
      options: { gatePollMs: 50, healthDeadlineMs: 3_000 },
    });
  }

  async function desired(rolloutId: string, bundlePath: string, version: string) {
    const body = await readFile(bundlePath);
    const sha = server.add(body);
    return create(DesiredStateSchema, {
      version: 1n,
      osUpdate: {
        rolloutId,
        releaseId: `rel-${version}`,
        version,
        compatible: "avtech-test",
        bundle: { sha256: sha, sizeBytes: BigInt(body.length), url: `/assets/${sha}` },
        rebootPolicy: RebootPolicy.NOW,
      },
    });
  }

  beforeAll(async () => {
    dataDir = join(dir, "data", "v1", "update");
    await mkdir(dataDir, { recursive: true });
  });

  it("installs into B, boots B, confirms it and marks it good; a later update that fails its gate rolls back to B", async () => {
    await system.boot("A");
    const first = manager("boot-1");
    await first.open();
    expect(first.facts()).toEqual({ imageVersion: "2026.12.1", bootedSlot: "A" });
    await first.setDesired(await desired("ro-1", bundles.good, "2026.12.2"));
    expect(rebooter.reboots).toBe(1);
    expect(reports.map((r) => UpdatePhase[r.phase])).toEqual(["DOWNLOADING", "INSTALLING", "REBOOTING", "REBOOTING"]);
    let status = await rauc.status();
    expect(status.primary).toBe("B");
    expect(status.slots.find((s) => s.bootname === "B")).toMatchObject({
      bundleVersion: "2026.12.2",
      bootStatus: "bad",
    });
    await first.stop();

    // "Reboot" into B.
    await system.boot("B");
    const onB = manager("boot-2");
    await onB.open();
    expect(onB.facts()).toEqual({ imageVersion: "2026.12.2", bootedSlot: "B" });
    await onB.runNow();
    expect(reports.at(-1)).toMatchObject({ phase: UpdatePhase.HEALTHY, rolloutId: "ro-1", version: "2026.12.2" });
    status = await rauc.status();
    expect(status.slots.find((s) => s.bootname === "B")?.bootStatus).toBe("good");
    expect(await readFile(join(system.dir, "boot", "calls.log"), "utf8")).toContain("set-state B good");

    // The next release goes into A, the gate fails there, the bootloader goes back to B.
    await onB.setDesired(await desired("ro-2", bundles.next, "2026.12.3"));
    expect(rebooter.reboots).toBe(2);
    expect((await rauc.status()).primary).toBe("A");
    await onB.stop();
    await system.boot("A");
    health.isStreamUp = false;
    health.linkError = "connect ECONNREFUSED";
    const onA = manager("boot-3");
    await onA.open();
    expect(onA.facts()).toEqual({ imageVersion: "2026.12.3", bootedSlot: "A" });
    const started = Date.now();
    await onA.runNow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    expect(rebooter.reboots).toBe(3);
    expect((await rauc.status()).slots.find((s) => s.bootname === "A")?.bootStatus).toBe("bad");
    await onA.stop();

    await system.bootloaderGoesBackTo("B", "A");
    await system.boot("B");
    const back = manager("boot-4");
    await back.open();
    await back.runNow();
    expect(reports.at(-1)).toMatchObject({
      rolloutId: "ro-2",
      phase: UpdatePhase.ROLLED_BACK,
      reason: UpdateFailureReason.NOT_HEALTHY,
      message:
        "not healthy within 3 s: control-plane stream not up (connect ECONNREFUSED); the bootloader went back to slot B",
    });
    expect(back.facts()).toEqual({ imageVersion: "2026.12.2", bootedSlot: "B" });
    // The bootloader went back with A still first: the player makes B the next boot again, or U-Boot would
    // return to A once B's tries ran out.
    expect((await rauc.status()).primary).toBe("B");
    expect(await readFile(join(system.dir, "boot", "calls.log"), "utf8")).toMatch(
      /set-primary A\n(.*\n)*set-primary B\n/,
    );
    await back.stop();
  }, 120_000);
});
