import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { classifyInstallError, createRaucCli, parseProgressLine, parseRaucStatus } from "./rauc-cli.ts";
import { RaucUnavailable } from "./types.ts";

/** `rauc status --detailed --output-format=json` of RAUC 1.8 right after installing into B (captured). */
const afterInstallJson = JSON.stringify({
  compatible: "avtech-test",
  variant: "",
  booted: "A",
  boot_primary: "rootfs.1",
  slots: [
    {
      "rootfs.1": {
        class: "rootfs",
        device: "/tmp/rauc-exp/slots/rootfs-b.img",
        type: "raw",
        bootname: "B",
        state: "inactive",
        parent: null,
        mountpoint: null,
        boot_status: "bad",
        slot_status: {
          bundle: { compatible: "avtech-test", version: "2026.12.1" },
          checksum: { sha256: "f9cc", size: 4194304 },
          installed: { timestamp: "2026-12-06T18:19:09Z", count: 1 },
          activated: { timestamp: "2026-12-06T18:19:09Z", count: 1 },
          status: "ok",
        },
      },
    },
    {
      "rootfs.0": {
        class: "rootfs",
        device: "/tmp/rauc-exp/slots/rootfs-a.img",
        type: "raw",
        bootname: "A",
        state: "booted",
        parent: null,
        mountpoint: null,
        boot_status: "good",
        slot_status: { bundle: { compatible: null } },
      },
    },
  ],
});

describe("parseRaucStatus", () => {
  it("reads booted and primary as bootnames, and each slot's bundle version", () => {
    expect(parseRaucStatus(afterInstallJson)).toEqual({
      compatible: "avtech-test",
      booted: "A",
      primary: "B",
      slots: [
        {
          name: "rootfs.1",
          class: "rootfs",
          bootname: "B",
          state: "inactive",
          bootStatus: "bad",
          bundleVersion: "2026.12.1",
        },
        { name: "rootfs.0", class: "rootfs", bootname: "A", state: "booted", bootStatus: "good", bundleVersion: "" },
      ],
    });
  });

  it("refuses output that is not RAUC's status", () => {
    expect(() => parseRaucStatus("{}")).toThrow();
    expect(() => parseRaucStatus("rauc-Message: no")).toThrow();
  });
});

describe("classifyInstallError (RAUC 1.8's own lines)", () => {
  it.each([
    [
      "Installation error: Compatible mismatch: Expected 'avtech-test' but bundle manifest has 'other-device'",
      "INCOMPATIBLE",
    ],
    ["signature verification failed: Verify error: unable to get local issuer certificate", "SIGNATURE_INVALID"],
    ["signature verification failed: error:1700009E:CMS routines::verification failure", "SIGNATURE_INVALID"],
    ["Invalid bundle format: Signature size (16642428039554918642) exceeds bundle size", "INSTALL_FAILED"],
    ["Failed mounting bundle: Failed to open /dev/mapper/control: No such file or directory", "INSTALL_FAILED"],
    ["cannot run rauc: spawn rauc ENOENT", "INSTALL_FAILED"],
  ] as const)("%s → %s", (line, reason) => {
    expect(classifyInstallError(line)).toBe(reason);
  });
});

describe("parseProgressLine", () => {
  it("reads RAUC's percentage lines and nothing else", () => {
    expect(parseProgressLine("  0% Installing")).toEqual({ percent: 0, step: "Installing" });
    expect(parseProgressLine(" 40% Checking bundle done.")).toEqual({ percent: 40, step: "Checking bundle done." });
    expect(parseProgressLine("100% Installing failed.")).toEqual({ percent: 100, step: "Installing failed." });
    expect(parseProgressLine("installing")).toBeUndefined();
    expect(parseProgressLine("LastError: x")).toBeUndefined();
  });
});

describe("createRaucCli without a usable RAUC", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "avtech-rauc-cli-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reports a missing binary as RaucUnavailable and as a failed install, not a crash", async () => {
    const rauc = createRaucCli({ command: join(dir, "no-such-rauc") });
    await expect(rauc.status()).rejects.toMatchObject({ name: "RaucUnavailable", missing: true });
    await expect(rauc.status()).rejects.toThrow(/cannot run .*no-such-rauc: spawn .* ENOENT/);
    const result = await rauc.install("/x.raucb", () => undefined);
    expect(result).toMatchObject({
      type: "Failed",
      reason: "INSTALL_FAILED",
      message: expect.stringMatching(/ENOENT/),
    });
    await expect(rauc.markGood()).rejects.toThrow(/mark-good failed/);
  });

  it("reports a rauc whose service does not answer as RaucUnavailable with its error line", async () => {
    const script = join(dir, "rauc");
    await writeFile(
      script,
      "#!/bin/sh\necho 'rauc status: error creating proxy: Could not connect: No such file or directory' >&2\nexit 1\n",
    );
    await chmod(script, 0o755);
    const error = await createRaucCli({ command: script })
      .status()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RaucUnavailable);
    expect(error).toMatchObject({
      missing: false,
      message:
        "rauc status failed (exit 1): rauc status: error creating proxy: Could not connect: No such file or directory",
    });
  });

  it("streams install progress line by line and takes the reason from the LastError line", async () => {
    const script = join(dir, "rauc");
    await writeFile(
      script,
      [
        "#!/bin/sh",
        "echo installing",
        "echo '  0% Installing'",
        "echo ' 20% Checking bundle'",
        "echo ' 40% Verifying signature failed.'",
        "echo '100% Installing failed.'",
        "echo 'LastError: signature verification failed: Verify error: unable to get local issuer certificate'",
        'echo "Installing \\`$2\\` failed" >&2',
        "exit 1",
        "",
      ].join("\n"),
    );
    await chmod(script, 0o755);
    const progress: number[] = [];
    const result = await createRaucCli({ command: script }).install("/data/b.raucb", (percent) =>
      progress.push(percent),
    );
    expect(progress).toEqual([0, 20, 40, 100]);
    expect(result).toEqual({
      type: "Failed",
      reason: "SIGNATURE_INVALID",
      message: "signature verification failed: Verify error: unable to get local issuer certificate",
    });
  });

  it("tells a status refused while RAUC's service is busy from a RAUC that does not answer", async () => {
    const script = join(dir, "rauc-status-busy");
    await writeFile(
      script,
      "#!/bin/sh\necho '(rauc:2276): rauc-WARNING **: 22:26:25.911: already processing a different method' >&2\nexit 1\n",
    );
    await chmod(script, 0o755);
    const error = await createRaucCli({ command: script })
      .status()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RaucUnavailable);
    expect(error).toMatchObject({ busy: true, missing: false });
    const down = join(dir, "rauc-status-down");
    await writeFile(down, "#!/bin/sh\necho 'failed to connect to the RAUC service' >&2\nexit 1\n");
    await chmod(down, 0o755);
    expect(
      await createRaucCli({ command: down })
        .status()
        .catch((e: unknown) => e),
    ).toMatchObject({ busy: false, missing: false });
  });

  it("tells a busy RAUC (another installation running) from a refused bundle", async () => {
    const script = join(dir, "rauc");
    await writeFile(
      script,
      '#!/bin/sh\necho "D-Bus error while installing \\`$2\\`: GDBus.Error:org.gtk.GDBus.UnmappedGError.Quark._g_2dio_2derror_2dquark.Code1: rauc busy: cannot run install" >&2\nexit 1\n',
    );
    await chmod(script, 0o755);
    expect(await createRaucCli({ command: script }).install("/b.raucb", () => undefined)).toEqual({
      type: "Busy",
      message: "rauc busy: cannot run install",
    });
  });
});
