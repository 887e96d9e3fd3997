import { readFile } from "node:fs/promises";
import {
  type ClipBoundaries,
  type HealthProbe,
  type InstallResult,
  type Rauc,
  type RaucStatus,
  RaucUnavailable,
  type Rebooter,
} from "../../src/update/index.ts";

/**
 * RAUC with two root slots, A and B, held in memory. `install` behaves as RAUC does on success:
 * the other slot gets the bundle's version, is marked bad until confirmed, and becomes primary.
 */
export class FakeRauc implements Rauc {
  state: RaucStatus;
  /** When set, every call fails: RAUC does not answer (its service is down). */
  unavailable: string | undefined;
  /** With `unavailable`: there is no rauc at all (a development machine). */
  missing = false;
  /** With `unavailable`: RAUC's service is busy with another operation (an installation running). */
  busy = false;
  /** What the next installs answer; default Installed. */
  installResult: InstallResult = { type: "Installed" };
  /** Version written into the target slot by a successful install. */
  installVersion = "";
  /** Resolves an install only when released (to land a "power cut" mid-install). */
  holdInstall: Promise<void> | undefined;
  readonly installs: { path: string; bytes: number }[] = [];
  markGoodCalls = 0;
  markGoodError: Error | undefined;
  /** Slot names passed to markActive. */
  readonly activated: string[] = [];

  constructor(booted = "A", primary = booted) {
    this.state = {
      compatible: "avtech-rpi",
      booted,
      primary,
      slots: [
        { name: "rootfs.0", class: "rootfs", bootname: "A", state: "", bootStatus: "good", bundleVersion: "" },
        { name: "rootfs.1", class: "rootfs", bootname: "B", state: "", bootStatus: "good", bundleVersion: "" },
      ],
    };
  }

  slot(bootname: string): RaucStatus["slots"][number] {
    const slot = this.state.slots.find((s) => s.bootname === bootname);
    if (!slot) throw new Error(`no slot ${bootname}`);
    return slot;
  }

  async status(): Promise<RaucStatus> {
    if (this.unavailable !== undefined)
      throw new RaucUnavailable(this.unavailable, { missing: this.missing, busy: this.busy });
    return structuredClone(this.state);
  }

  async install(bundlePath: string, onProgress: (percent: number, step: string) => void): Promise<InstallResult> {
    if (this.unavailable !== undefined) return { type: "Failed", reason: "INSTALL_FAILED", message: this.unavailable };
    // RAUC reads the bundle: it must be complete and in place.
    const bytes = (await readFile(bundlePath)).length;
    this.installs.push({ path: bundlePath, bytes });
    onProgress(0, "Installing");
    await this.holdInstall;
    onProgress(100, "Installing done.");
    if (this.installResult.type === "Installed") {
      const other = this.state.booted === "A" ? "B" : "A";
      Object.assign(this.slot(other), { bundleVersion: this.installVersion, bootStatus: "bad" });
      this.state.primary = other;
    }
    return this.installResult;
  }

  async markGood(): Promise<void> {
    this.markGoodCalls++;
    if (this.markGoodError) throw this.markGoodError;
    this.slot(this.state.booted).bootStatus = "good";
  }

  async markActive(name: string): Promise<void> {
    this.activated.push(name);
    const slot = this.state.slots.find((s) => s.name === name);
    if (!slot) throw new Error(`rauc status mark-active failed: no slot ${name}`);
    this.state.primary = slot.bootname;
  }

  /** What the machine looks like after a reboot into `booted` (the bootloader's choice). */
  rebootInto(booted: string, primary = booted): void {
    this.state.booted = booted;
    this.state.primary = primary;
  }
}

/** Counts reboot requests. */
export class FakeRebooter implements Rebooter {
  reboots = 0;
  error: Error | undefined;
  async reboot(): Promise<void> {
    this.reboots++;
    if (this.error) throw this.error;
  }
}

/** Health facts set by the test. */
export class FakeHealth implements HealthProbe {
  isRegistered = true;
  isStreamUp = true;
  isPlaying = true;
  linkError: string | undefined;
  registered(): boolean {
    return this.isRegistered;
  }
  streamUp(): boolean {
    return this.isStreamUp;
  }
  playing(): boolean {
    return this.isPlaying;
  }
  lastLinkError(): string | undefined {
    return this.linkError;
  }
}

/** Clip boundaries the test releases by hand (or at once when `immediate`). */
export class FakeClips implements ClipBoundaries {
  immediate = true;
  waits = 0;
  #release: (() => void) | undefined;
  next(_maxWaitMs: number, signal: AbortSignal): Promise<void> {
    this.waits++;
    if (this.immediate) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#release = resolve;
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }
  /** Ends the clip on screen. */
  boundary(): void {
    this.#release?.();
    this.#release = undefined;
  }
  get waiting(): boolean {
    return this.#release !== undefined;
  }
}
