import { type Metric, reportMetrics } from "../../bench/metric.ts";
import { distDir, ensureConsoleBuilt, launchBrowser } from "../test/console/browser.ts";
import { fakePassword, fakeTenant, fakeUsers, startFakeApi } from "../test/console/fake-api.ts";

/**
 * The fleet table under load in a real headless Chromium (software rendering): 10,000 screens
 * from the fake control plane, which streams 2,000 health upserts per second over WatchFleet.
 * Measures frame times (requestAnimationFrame deltas, p95) and long tasks (PerformanceObserver
 * "longtask": main-thread work over 50 ms) per 5 s phase.
 */
const screenCount = 10_000;
const upsertsPerSecond = 2_000;
const phaseMs = 5_000;

// Strings, not functions: this file is type-checked without DOM types.
function startProbe(scroll: boolean): string {
  return `(() => {
    const m = { frames: [], longTasks: [], stop: false };
    window.__bench = m;
    m.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) m.longTasks.push(e.duration);
    });
    m.observer.observe({ type: "longtask" });
    let last = performance.now();
    const frame = (now) => {
      m.frames.push(now - last);
      last = now;
      if (!m.stop) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    if (${scroll}) {
      const rows = document.querySelector("[data-testid=fleet-rows]");
      m.scroller = setInterval(() => {
        rows.scrollTop = (rows.scrollTop + 520) % (rows.scrollHeight - rows.clientHeight);
      }, 100);
    }
  })()`;
}

const stopProbe = `(() => {
  const m = window.__bench;
  m.stop = true;
  m.observer.disconnect();
  clearInterval(m.scroller);
  return { frames: m.frames, longTasks: m.longTasks };
})()`;

await ensureConsoleBuilt();
const fake = await startFakeApi({ distDir, screenCount });
const browser = await launchBrowser();
try {
  const page = await browser.context.newPage();
  await page.goto(fake.url);
  await page.getByLabel("Organisation").fill(fakeTenant);
  await page.getByLabel("Email").fill(fakeUsers.admin.email);
  await page.getByLabel("Password").fill(fakePassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Live", { exact: true }).waitFor({ timeout: 30_000 });
  await page.locator("[data-testid=fleet-rows] tr.tr").first().waitFor();

  // Three phases separate the cost of the stream from the cost of scrolling (which on a
  // GPU-less machine is mostly raster work, not our JavaScript): stream only, scroll only, both.
  const phases = [
    { name: "stream", stream: true, scroll: false },
    { name: "scroll", stream: false, scroll: true },
    { name: "stream_scroll", stream: true, scroll: true },
  ];
  const metrics: Metric[] = [];
  for (const phase of phases) {
    await page.evaluate(startProbe(phase.scroll));
    const sentBefore = fake.upsertsSent();
    const stopStream = phase.stream ? fake.streamHealth(upsertsPerSecond) : () => undefined;
    await new Promise((resolve) => setTimeout(resolve, phaseMs));
    stopStream();
    const sent = fake.upsertsSent() - sentBefore;
    const probe = (await page.evaluate(stopProbe)) as { frames: number[]; longTasks: number[] };
    const frames = probe.frames.slice(1).sort((a, b) => a - b);
    const p95 = frames[Math.floor(frames.length * 0.95)] ?? Number.NaN;
    const longTaskMs = probe.longTasks.reduce((sum, d) => sum + d, 0);
    console.log(
      `${phase.name}: ${sent} upserts, ${probe.frames.length} frames in ${phaseMs / 1000} s, ` +
        `${probe.longTasks.length} long tasks (${Math.round(longTaskMs)} ms)`,
    );
    const prefix = `console.fleet.${phase.name}`;
    metrics.push(
      { name: `${prefix}.frame_p95`, value: p95, unit: "ms", goal: "<= 50 ms" },
      { name: `${prefix}.long_tasks`, value: probe.longTasks.length, unit: `tasks/${phaseMs / 1000} s`, goal: "<= 5" },
      { name: `${prefix}.long_task_time`, value: longTaskMs, unit: `ms/${phaseMs / 1000} s`, goal: "<= 500 ms" },
    );
    if (phase.stream) {
      metrics.push({
        name: `${prefix}.upserts`,
        value: sent / (phaseMs / 1000),
        unit: "upserts/s",
        goal: `${upsertsPerSecond} streamed to 10,000 rows`,
      });
    }
  }
  reportMetrics(metrics);
} finally {
  await browser.close();
  await fake.close();
}
