/* global document, window */
// Evaluated in a page of `seqae report` (page.evaluate): what each chart canvas shows. Plain
// JavaScript, as it runs in the browser (the project's TypeScript has no DOM types).
(() => {
  const { Chart } = window;
  const pixels = (c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return [...document.querySelectorAll('canvas[data-chart]')].map((c) => {
    const chart = Chart.getChart(c);
    const data = pixels(c);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;

    // The labelled-span shading: the chart drawn again without it, pixel by pixel. Inside each span
    // (the part in view) most pixels change (all but those under opaque lines and points); outside
    // the spans nothing does.
    const spans = chart?.options.plugins.spans?.spans ?? [];
    const shaded = [];
    let changedOutside = 0;
    if (spans.length > 0) {
      const a = chart.chartArea;
      const ratio = c.width / c.clientWidth;
      const columns = spans
        .map(([s, e]) => [
          Math.max(a.left, chart.scales.x.getPixelForValue(s)) * ratio,
          Math.min(a.right, chart.scales.x.getPixelForValue(e)) * ratio,
        ])
        .filter(([x0, x1]) => x1 - x0 >= 4 * ratio);
      chart.options.plugins.spans.spans = [];
      chart.update();
      const plain = pixels(c);
      chart.options.plugins.spans.spans = spans;
      chart.update();
      const [top, bottom] = [Math.ceil(a.top * ratio) + 1, Math.floor(a.bottom * ratio) - 1];
      const changed = (x, y) => {
        const i = 4 * (y * c.width + x);
        return [0, 1, 2, 3].some((k) => data[i + k] !== plain[i + k]);
      };
      for (const [x0, x1] of columns) {
        let n = 0;
        let diff = 0;
        for (let x = Math.ceil(x0) + 1; x < Math.floor(x1) - 1; x++)
          for (let y = top; y < bottom; y++) {
            n++;
            if (changed(x, y)) diff++;
          }
        shaded.push(diff / n);
      }
      const inSpan = (x) =>
        columns.some(([x0, x1]) => x >= Math.floor(x0) - 2 && x <= Math.ceil(x1) + 2);
      for (let x = Math.ceil(a.left * ratio); x < Math.floor(a.right * ratio); x++)
        if (!inSpan(x)) for (let y = top; y < bottom; y++) if (changed(x, y)) changedOutside++;
    }
    return {
      id: c.id,
      kind: c.dataset.chart,
      stream: c.closest('section').querySelector('h2').textContent,
      chart: chart !== undefined,
      painted,
      pixels: c.width * c.height,
      datasets: chart ? chart.data.datasets.map((d) => ({ label: d.label, n: d.data.length })) : [],
      spansDrawn: chart?.$spansDrawn,
      marks: (chart?.options.plugins.spans?.marks ?? []).map((m) => m[1]),
      switches: window.seqaeReport.data.streams[
        Number(c.closest('section').dataset.streamIndex)
      ].switches.map((w) => w[1]),
      shaded,
      changedOutside,
      // Points of {x, y} datasets that fall outside the chart's scales (drawn nowhere).
      outOfView: chart
        ? chart.data.datasets
            .flatMap((d) => d.data)
            .filter(
              (p) =>
                p !== null &&
                typeof p === 'object' &&
                p.y !== null &&
                (p.x < chart.scales.x.min ||
                  p.x > chart.scales.x.max ||
                  p.y < chart.scales.y.min ||
                  p.y > chart.scales.y.max),
            ).length
        : 0,
    };
  });
})();
