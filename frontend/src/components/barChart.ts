// A small SVG bar chart (no chart library): one bar per label. The figure is hidden from
// assistive technology; the page shows the same numbers in a table.

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export interface Bar {
  label: string;
  value: number; // only for drawing: the amounts themselves stay integers in the table
  title: string;
}

export function barChart(bars: Bar[], height = 160): SVGSVGElement {
  const width = Math.max(240, bars.length * 48);
  const max = Math.max(1, ...bars.map((b) => b.value));
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height + 24}`,
    width,
    height: height + 24,
    class: "bar-chart",
    "aria-hidden": "true",
    focusable: "false",
  });
  root.append(svg("line", { x1: 0, x2: width, y1: height + 0.5, y2: height + 0.5, class: "axis" }));
  bars.forEach((b, i) => {
    const h = Math.round((b.value / max) * height);
    const x = i * 48 + 8;
    const rect = svg("rect", { x, y: height - h, width: 32, height: Math.max(h, 1), rx: 3, class: "bar" });
    const title = svg("title", {});
    title.textContent = b.title;
    rect.append(title);
    const text = svg("text", { x: x + 16, y: height + 16, "text-anchor": "middle", class: "bar-label" });
    text.textContent = b.label;
    root.append(rect, text);
  });
  return root;
}
