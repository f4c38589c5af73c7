// The HTML ladder (`demo --html`): headless Chromium opens it, renders it (a screenshot), and its DOM shows the run's messages in order.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ensureSimBuilt, root } from "../sim-cli.ts";
import { htmlLadder } from "../../sim/html-ladder.ts";

const dir = mkdtempSync(join(tmpdir(), "doorsip-html-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(ensureSimBuilt, 60_000);

/** Headless Chromium on a file: its DOM after loading (--dump-dom), or a screenshot written to png. */
function chromium(file: string, extra: string[]): string {
  const profile = mkdtempSync(join(dir, "profile-"));
  return execFileSync("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile, ...extra, pathToFileURL(file).href],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 60_000 });
}

/** The arrows' labels as the browser's DOM has them, in order. */
const labels = (dom: string) => [...dom.matchAll(/<text class="label"[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe("the HTML ladder in headless Chromium", () => {
  it("demo --virtual --html: the page renders (a screenshot of the asked size) and its DOM shows every SIP message in order", () => {
    const html = join(dir, "virtual.html");
    const r = spawnSync(process.execPath, [cli, "demo", "--virtual", "--html", html], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("html: the ladder of 18 SIP messages written to " + html);
    const dom = chromium(html, ["--dump-dom"]);
    expect(labels(dom)).toEqual(["REGISTER", "401 Unauthorized", "REGISTER", "200 OK", "INVITE", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK",
      "ping", "pong", "ping", "pong", "REGISTER", "200 OK", "REGISTER", "200 OK"]);
    expect(dom).toContain("<title>doorsip: the door phone on the virtual network</title>");
    expect(dom).toMatch(/<details id="d4"><summary>2\.\d{3} s door → phone: INVITE<\/summary><pre>INVITE sip:resident@10\.0\.0\.2:5060 SIP\/2\.0/);
    const png = join(dir, "virtual.png");
    chromium(html, ["--screenshot=" + png, "--window-size=1000,800", "--hide-scrollbars"]);
    const b = readFileSync(png);
    expect(b.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect([b.readUInt32BE(16), b.readUInt32BE(20)]).toEqual([1000, 800]); // IHDR width, height
    expect(b.length).toBeGreaterThan(10_000); // a drawn page: a blank one of this size is ~4 KB
  }, 120_000);

  it("npm start -- --once --html: the live run's ladder, with the ports it ran on", () => {
    const html = join(dir, "live.html");
    const r = spawnSync(process.execPath, [cli, "demo", "--once", "--html", html], { cwd: root, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    const dom = chromium(html, ["--dump-dom"]);
    expect(labels(dom)).toEqual(["REGISTER", "401 Unauthorized", "REGISTER", "200 OK", "INVITE", "180 Ringing", "200 OK", "ACK", "BYE", "200 OK", "REGISTER", "200 OK"]);
    const phonePort = /phone \(:(\d+)\)/.exec(r.stdout)![1];
    expect(dom).toContain("INVITE sip:resident@127.0.0.1:" + phonePort + " SIP/2.0");
  }, 120_000);

  it("escapes what a message holds: markup in a header is text, not HTML", () => {
    const page = htmlLadder("a <title> & more", ["a", "b"], [{ time: 1500, from: 0, to: 1, data: "OPTIONS sip:x SIP/2.0\r\nSubject: <script>alert(1)</script>\r\n\r\n" }]);
    expect(page).not.toContain("<script>");
    expect(page).toContain("Subject: &lt;script&gt;alert(1)&lt;/script&gt;");
    expect(page).toContain("<title>a &lt;title&gt; &amp; more</title>");
    const file = join(dir, "escape.html");
    writeFileSync(file, page);
    expect(labels(chromium(file, ["--dump-dom"]))).toEqual(["OPTIONS"]);
  }, 60_000);
});
