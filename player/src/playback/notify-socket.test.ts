import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startNotifySocketSender } from "./notify-socket.ts";

const logger = pino({ level: "silent" });

/** A unix datagram socket bound at `address` (a path or "@abstract"), as systemd's notify socket is. */
interface Receiver {
  /** The datagrams received so far, one string each. */
  received: string[];
  waitFor(count: number): Promise<void>;
  child: ChildProcessWithoutNullStreams;
}

const receiverScript = String.raw`
use Socket;
my $path = $ARGV[0];
$path =~ s/^\@/\0/;
socket(my $sock, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!\n";
bind($sock, pack_sockaddr_un($path)) or die "bind: $!\n";
$| = 1;
print "bound\n";
while (defined(recv($sock, my $datagram, 4096, 0))) { print "$datagram\n"; }
`;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startReceiver(address: string): Promise<Receiver> {
  const child = spawn("perl", ["-e", receiverScript, address], { stdio: ["pipe", "pipe", "pipe"] });
  cleanups.push(async () => {
    child.kill("SIGKILL");
  });
  const received: string[] = [];
  const lines = createInterface({ input: child.stdout });
  let bound!: () => void;
  const isBound = new Promise<void>((resolve) => {
    bound = resolve;
  });
  lines.on("line", (line) => (line === "bound" ? bound() : received.push(line)));
  await isBound;
  return {
    received,
    child,
    async waitFor(count) {
      const deadline = Date.now() + 10_000;
      while (received.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

/** The pids of this process's children running `comm`, from /proc. */
async function childrenNamed(comm: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid …: comm may hold spaces, so the fields after it are found from the last ")".
    const match = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (match?.[1] === comm && Number(match[2]) === process.pid) pids.push(Number(entry));
  }
  return pids;
}

async function tempSocketPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "avtech-notify-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, "notify");
}

const noFallback = async (assignment: string) => {
  throw new Error(`the fallback was used for ${assignment}`);
};

describe("startNotifySocketSender", () => {
  it("sends each assignment as one datagram, all from one long-lived process", async () => {
    const path = await tempSocketPath();
    const receiver = await startReceiver(path);
    const sender = startNotifySocketSender({ socket: path, logger, fallback: noFallback });
    cleanups.push(async () => sender.close());
    const receiverPid = receiver.child.pid;

    await sender.send("READY=1");
    await receiver.waitFor(1);
    const senders = (await childrenNamed("perl")).filter((pid) => pid !== receiverPid);
    expect(senders).toHaveLength(1);
    for (let i = 0; i < 20; i++) await sender.send("WATCHDOG=1");
    await sender.send("STATUS=playing\nlobby");
    await receiver.waitFor(22);

    expect(receiver.received).toEqual(["READY=1", ...Array(20).fill("WATCHDOG=1"), "STATUS=playing lobby"]);
    // The same process sent them all and is still there: systemd finds its cgroup when it reads the datagram.
    expect((await childrenNamed("perl")).filter((pid) => pid !== receiverPid)).toEqual(senders);
  });

  it("reaches a socket in the abstract namespace (@name), as systemd's may be", async () => {
    const address = `@avtech-notify-test-${randomBytes(6).toString("hex")}`;
    const receiver = await startReceiver(address);
    const sender = startNotifySocketSender({ socket: address, logger, fallback: noFallback });
    cleanups.push(async () => sender.close());
    await sender.send("WATCHDOG=1");
    await receiver.waitFor(1);
    expect(receiver.received).toEqual(["WATCHDOG=1"]);
  });

  it("starts a new sender after the old one died", async () => {
    const path = await tempSocketPath();
    const receiver = await startReceiver(path);
    const sender = startNotifySocketSender({ socket: path, logger, fallback: noFallback });
    cleanups.push(async () => sender.close());
    await sender.send("WATCHDOG=1");
    await receiver.waitFor(1);
    const [first] = (await childrenNamed("perl")).filter((pid) => pid !== receiver.child.pid);
    expect(first).toBeDefined();
    process.kill(first as number, "SIGKILL");
    while ((await childrenNamed("perl")).includes(first as number)) await new Promise((r) => setTimeout(r, 10));

    // The write that finds the pipe closed may fail (the watchdog loop logs it and pings again later).
    await sender.send("WATCHDOG=1").catch(() => undefined);
    await sender.send("WATCHDOG=1");
    await receiver.waitFor(2);
    expect(receiver.received.length).toBeGreaterThanOrEqual(2);
    expect((await childrenNamed("perl")).filter((pid) => pid !== receiver.child.pid)).not.toContain(first);
  });

  it("uses the fallback (systemd-notify per message) where perl cannot be started", async () => {
    const fallen: string[] = [];
    const sender = startNotifySocketSender({
      socket: await tempSocketPath(),
      logger,
      perl: "/nonexistent/perl",
      fallback: async (assignment) => {
        fallen.push(assignment);
      },
    });
    await sender.send("READY=1");
    await sender.send("WATCHDOG=1");
    expect(fallen).toEqual(["READY=1", "WATCHDOG=1"]);
  });
});
