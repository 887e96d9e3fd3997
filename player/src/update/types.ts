/**
 * The ports of the OS update module (conventions rule 10): RAUC, reboot, and the facts the health
 * gate reads. `main.ts` passes the real ones; tests pass fakes.
 */

/** One slot as `rauc status --detailed --output-format=json` describes it. */
export interface RaucSlot {
  /** RAUC's slot name, e.g. "rootfs.1". */
  name: string;
  /** Slot class, e.g. "rootfs". */
  class: string;
  /** The bootloader's name for it ("A", "B"); empty for slots without one. */
  bootname: string;
  /** "booted", "active" or "inactive". */
  state: string;
  /** What the bootloader says: "good", "bad", or "" when RAUC could not tell. */
  bootStatus: string;
  /** Version of the last bundle RAUC installed into the slot; "" when none (e.g. the factory image). */
  bundleVersion: string;
}

/** The system as RAUC sees it. */
export interface RaucStatus {
  /** The system's compatible (system.conf). */
  compatible: string;
  /** Bootname of the slot the system booted from. */
  booted: string;
  /** Bootname of the slot the bootloader will boot next ("" when unknown). */
  primary: string;
  slots: RaucSlot[];
}

/** Why `rauc install` failed, in the contract's words. */
export type InstallFailureReason = "SIGNATURE_INVALID" | "INCOMPATIBLE" | "INSTALL_FAILED";

/**
 * Outcome of `rauc install`. Busy: RAUC is still running another installation (e.g. the one a
 * restarted player had started), which says nothing about the bundle.
 */
export type InstallResult =
  | { type: "Installed" }
  | { type: "Failed"; reason: InstallFailureReason; message: string }
  | { type: "Busy"; message: string };

/** RAUC, through its command line (`rauc install`, `rauc status`, `rauc status mark-good`). */
export interface Rauc {
  /**
   * The system's slots. Rejects with {@link RaucUnavailable} when RAUC is not there (no binary, no
   * service, no system.conf): the device cannot update.
   */
  status(): Promise<RaucStatus>;
  /**
   * Installs a bundle into the inactive slot and makes it the one to boot next; resolves when RAUC
   * is done. `onProgress` gets RAUC's percentage and step. A refused bundle is a Failed result,
   * not a rejection.
   */
  install(bundlePath: string, onProgress: (percent: number, step: string) => void): Promise<InstallResult>;
  /** Marks the booted slot good (the bootloader stops counting tries). Rejects when RAUC refuses. */
  markGood(): Promise<void>;
  /**
   * Makes slot `name` (RAUC's slot name, e.g. "rootfs.1") the one to boot next again, e.g. after a
   * power cut cleared a one-shot trial boot (the Raspberry Pi's tryboot flag). Rejects when RAUC refuses.
   */
  markActive(name: string): Promise<void>;
}

/**
 * RAUC cannot be used on this machine. `missing`: there is no `rauc` at all (a development
 * machine), which will not change; otherwise RAUC is there but does not answer (its service not
 * started yet, no system.conf), which may.
 */
export class RaucUnavailable extends Error {
  override name = "RaucUnavailable";
  readonly missing: boolean;
  /**
   * RAUC's service is there but busy: RAUC 1.8 takes one D-Bus method at a time and refuses `rauc status`
   * ("already processing a different method") while an installation runs, e.g. the one a restarted player had
   * started. That says nothing about whether the device can update.
   */
  readonly busy: boolean;

  constructor(message: string, options: { missing?: boolean; busy?: boolean } = {}) {
    super(message);
    this.missing = options.missing ?? false;
    this.busy = options.busy ?? false;
  }
}

/** Restarts the machine. */
export interface Rebooter {
  /** Asks the system to reboot; resolves once asked (the process is usually stopped soon after). */
  reboot(): Promise<void>;
}

/** What the health gate checks after booting a new slot. */
export interface HealthProbe {
  /** The screen has device credentials. */
  registered(): boolean;
  /** The control-plane stream is up (Welcome received on the current session). */
  streamUp(): boolean;
  /** mpv is healthy and shows content, or a slate by design (standby, display off). */
  playing(): boolean;
  /** The link's last error, for the message of a failed gate. */
  lastLinkError(): string | undefined;
}

/** Clip boundaries of the playing content. */
export interface ClipBoundaries {
  /**
   * Resolves at the end of the clip on screen, at once when no clip plays (a slate), or after
   * `maxWaitMs` (a stuck player must not hold a reboot back forever). Rejects when `signal` aborts.
   */
  next(maxWaitMs: number, signal: AbortSignal): Promise<void>;
}
