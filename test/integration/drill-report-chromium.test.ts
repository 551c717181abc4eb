/**
 * report.html as a person sees it: opened from its file in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core; no browser downloaded) with every network request aborted and counted — none may be attempted
 * but the file itself. The charts must render (a path per series with a point per sample with a value, a non-empty
 * box; the fault windows; the effect, detection, recovery and abort markers inside the plot), hostile names must
 * stay text (no dialog, no script, no attribute of theirs), and junit.xml must parse as XML. A screenshot is saved
 * to test-artifacts/drill-report.png.
 *
 * @lane quiet (measures nothing; one headless browser for a few seconds)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { writeReports } from '../../src/drill/report';
import { drillResult } from '../support/drill-result';
import { ROOT, tmpDir } from '../helpers';

jest.setTimeout(90_000);

const CHROMIUM = '/usr/bin/chromium';
const SHOT = path.join(ROOT, 'test-artifacts', 'drill-report.png');
const have = fs.existsSync(CHROMIUM);
if (!have) console.warn(`drill-report-chromium: skipped, ${CHROMIUM} is missing (apt-get install chromium)`);
const maybe = have ? describe : describe.skip;

interface ChartInfo {
  d: string;
  points: number;
  moves: number;
  bbox: { width: number; height: number };
  plot: { left: number; right: number; top: number; bottom: number };
  markers: Record<string, Array<{ x: number; top: number; bottom: number }>>;
  faults: Array<{ width: number; height: number }>;
  labels: string[];
  xTicks: string[];
  yTicks: string[];
}

/** Runs in the page (a string: the test's type-check has no DOM library). */
const READ_CHARTS = `(() => [...document.querySelectorAll('svg.chart')].map((svg) => {
  const path = svg.querySelector('path.series-line');
  const d = path.getAttribute('d') || '';
  const box = path.getBBox();
  const pr = svg.querySelector('rect.plot-area').getBoundingClientRect();
  const markers = {};
  for (const m of ['effect', 'detection', 'recovery', 'abort'])
    markers[m] = [...svg.querySelectorAll('line.marker.marker-' + m)].map((l) => {
      const r = l.getBoundingClientRect();
      return { x: r.left + r.width / 2, top: r.top, bottom: r.bottom };
    });
  return {
    d,
    points: (d.match(/[ML]/g) || []).length,
    moves: (d.match(/M/g) || []).length,
    bbox: { width: box.width, height: box.height },
    plot: { left: pr.left, right: pr.right, top: pr.top, bottom: pr.bottom },
    markers,
    faults: [...svg.querySelectorAll('rect.fault-window')].map((f) => {
      const r = f.getBoundingClientRect();
      return { width: r.width, height: r.height };
    }),
    labels: [...svg.querySelectorAll('text.fault-label')].map((t) => t.textContent),
    xTicks: [...svg.querySelectorAll('text.tick-x')].map((t) => t.textContent),
    yTicks: [...svg.querySelectorAll('text.tick-y')].map((t) => t.textContent),
  };
}))()`;

maybe('report.html in headless Chromium', () => {
  const dir = tmpDir('drill-report');
  const r = drillResult();
  const bad = drillResult({ hostile: true });
  let browser: Browser;
  let context: BrowserContext;
  /** every request the pages made, and those aborted (anything but the report's own file) */
  const requests: string[] = [];
  const blocked: string[] = [];
  const dialogs: string[] = [];
  const allowed = new Set<string>();

  beforeAll(async () => {
    writeReports(r, path.join(dir, 'good'));
    writeReports(bad, path.join(dir, 'hostile'));
    for (const d of ['good', 'hostile']) allowed.add(pathToFileURL(path.join(dir, d, 'report.html')).href);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox'],
      headless: true,
    });
    context = await browser.newContext({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    context.on('request', (req) => requests.push(req.url()));
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (allowed.has(url)) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function open(which: 'good' | 'hostile'): Promise<Page> {
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const url = pathToFileURL(path.join(dir, which, 'report.html')).href;
    const res = await page.goto(url, { waitUntil: 'load' });
    expect(res?.ok() ?? true).toBe(true);
    // anything late (a font, an image a style asks for) would show here
    await page.waitForTimeout(300);
    return page;
  }

  test('the charts render: paths with a point per sample, fault windows, markers inside the plot', async () => {
    const page = await open('good');
    const charts = await page.evaluate<ChartInfo[]>(READ_CHARTS);
    expect(charts).toHaveLength(r.series.length);
    charts.forEach((c, i) => {
      const s = r.series[i];
      expect(c.d).not.toBe('');
      // one point per sample with a value; the samples without one are gaps (a new segment after each run)
      expect(c.points).toBe(s.samples.filter((x) => x.value !== null).length);
      expect(c.moves).toBe(i === 0 ? 2 : 1);
      expect(c.bbox.width).toBeGreaterThan(100);
      expect(c.bbox.height).toBeGreaterThan(5);
      expect(c.plot.right - c.plot.left).toBeGreaterThan(500);
      for (const m of ['effect', 'detection', 'recovery', 'abort']) {
        expect(c.markers[m]).toHaveLength(1);
        const [line] = c.markers[m];
        expect(line.x).toBeGreaterThan(c.plot.left);
        expect(line.x).toBeLessThan(c.plot.right);
        expect(line.bottom).toBeLessThanOrEqual(c.plot.bottom + 1);
        expect(line.top).toBeGreaterThanOrEqual(c.plot.top - 6);
      }
      // the markers in time order, left to right
      const xs = ['effect', 'detection', 'recovery', 'abort'].map((m) => c.markers[m][0].x);
      expect([...xs].sort((a, b) => a - b)).toEqual(xs);
      expect(c.faults).toHaveLength(2);
      for (const f of c.faults) {
        expect(f.width).toBeGreaterThan(50);
        expect(f.height).toBeGreaterThan(50);
      }
      expect(c.labels).toEqual(['cpu: burn', 'net: limit']);
      expect(c.xTicks[0]).toBe('0 s');
      expect(c.yTicks.length).toBeGreaterThanOrEqual(3);
    });
    // the header, the tables, the event log folded
    const text = await page.evaluate<[string, boolean]>(
      `[document.querySelector('header').innerText, document.querySelector('details').open]`,
    );
    expect(text[0]).toMatch(/aborted/i);
    expect(text[0]).toMatch(/Time to effect\s+2\.1 s/);
    expect(text[0]).toMatch(/Time to detect\s+8\.4 s/);
    expect(text[0]).toMatch(/Time to recover\s+4\.2 s/);
    expect(text[1]).toBe(false);

    fs.mkdirSync(path.dirname(SHOT), { recursive: true, mode: 0o755 });
    await page.screenshot({ path: SHOT, fullPage: true });
    expect(fs.statSync(SHOT).size).toBeGreaterThan(10 * 1024);
    await page.close();
  });

  test('hostile names stay text: no dialog, no script, no attribute of theirs', async () => {
    const page = await open('hostile');
    const seen = await page.evaluate<{
      scripts: number;
      handlers: number;
      title: string;
      h1: string;
      charts: number;
    }>(`({
      scripts: document.scripts.length,
      handlers: [...document.querySelectorAll('*')].filter((e) =>
        [...e.attributes].some((a) => a.name.startsWith('on'))).length,
      title: document.title,
      h1: document.querySelector('h1').textContent,
      charts: document.querySelectorAll('svg.chart path.series-line').length,
    })`);
    expect(seen.scripts).toBe(0);
    expect(seen.handlers).toBe(0);
    expect(seen.h1).toContain('<script>alert(1)</script>');
    expect(seen.title).toContain('<script>alert(1)</script>');
    expect(seen.charts).toBe(3);
    // the pointer over the first chart, end to end (tooltips, hover states)
    const box = await page.evaluate<number[]>(
      `(() => { const r = document.querySelector('svg.chart').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`,
    );
    for (let k = 0; k <= 20; k++) await page.mouse.move(box[0] + (box[2] * k) / 20, box[1] + box[3] / 2);
    await page.waitForTimeout(200);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  test('junit.xml parses as XML (hostile names too)', async () => {
    const page = await context.newPage();
    for (const which of ['good', 'hostile']) {
      const xml = fs.readFileSync(path.join(dir, which, 'junit.xml'), 'utf8');
      const parsed = await page.evaluate<{
        errors: number;
        suites: number;
        cases: number;
        failures: number;
        name: string;
      }>(`(() => {
        const doc = new DOMParser().parseFromString(${JSON.stringify(xml)}, 'application/xml');
        return {
          errors: doc.getElementsByTagName('parsererror').length,
          suites: doc.getElementsByTagName('testsuite').length,
          cases: doc.getElementsByTagName('testcase').length,
          failures: doc.getElementsByTagName('failure').length,
          name: doc.getElementsByTagName('testsuite')[0]?.getAttribute('name'),
        };
      })()`);
      expect(parsed).toMatchObject({ errors: 0, suites: 1, cases: 5, failures: 1 });
      expect(parsed.name).toBe(which === 'good' ? 'drill checkout-latency' : `drill ${bad.name}`);
    }
    await page.close();
  });

  test('no request but the reports themselves', () => {
    expect(blocked).toEqual([]);
    expect([...new Set(requests)].sort()).toEqual([...allowed].sort());
  });
});
