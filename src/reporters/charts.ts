/**
 * Server-side SVG charts for the packet's executive summary: horizontal bar charts drawn as plain SVG strings, with every
 * label XML-escaped here (the templates insert the SVG unescaped), no script, no external reference, fixed geometry so
 * the same data always gives the same bytes.
 */

/** One bar: a label and its segments (stacked left to right). Zero-width segments are omitted. */
export interface ChartBar {
  label: string;
  segments: { key: string; value: number }[];
}

/** A series key with its legend label and fill colour. */
export interface ChartSeries {
  key: string;
  label: string;
  color: string;
}

/** Options for {@link barChart}. */
export interface BarChartOptions {
  /** Accessible title (SVG `<title>`), also the chart's aria-label. */
  title: string;
  series: ChartSeries[];
  /** Text shown instead of bars when there is nothing to draw. */
  emptyText?: string;
  /** Draw a legend (default: when there is more than one series). */
  legend?: boolean;
  /** Total width in px (default 330). */
  width?: number;
}

/** Escapes text for SVG/XML character data and attribute values. */
export function escapeXml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** Cuts a label to `max` characters with an ellipsis so one hostile or long name cannot push the chart apart. */
function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

const ROW = 18;
const BAR = 11;
const LABEL_W = 96;
const VALUE_W = 28;
const FONT = "font-family=\"'DejaVu Sans', sans-serif\"";

/**
 * A horizontal (stacked) bar chart as an SVG string. Bars scale to the largest total; each bar ends with its total;
 * a legend follows when there is more than one series. Deterministic and self-contained.
 */
export function barChart(bars: ChartBar[], options: BarChartOptions): string {
  const width = options.width ?? 330;
  const title = escapeXml(options.title);
  const colors = new Map(options.series.map((s) => [s.key, s.color]));
  const labels = new Map(options.series.map((s) => [s.key, s.label]));
  const max = Math.max(0, ...bars.map((b) => b.segments.reduce((n, s) => n + Math.max(0, s.value), 0)));
  const legend = (options.legend ?? options.series.length > 1) && bars.length > 0 && max > 0;
  const plotW = width - LABEL_W - VALUE_W;
  const top = 4;
  const rows = bars.length === 0 || max === 0 ? 1 : bars.length;
  const legendY = top + rows * ROW + 8;
  const height = legend ? legendY + 14 : top + rows * ROW + 4;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="${title}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${title}</title>`,
  );
  if (bars.length === 0 || max === 0) {
    out.push(`<text x="0" y="${top + 12}" ${FONT} font-size="9" fill="#555">${escapeXml(options.emptyText ?? 'Nothing to show.')}</text>`);
  } else {
    bars.forEach((bar, i) => {
      const y = top + i * ROW;
      const total = bar.segments.reduce((n, s) => n + Math.max(0, s.value), 0);
      out.push(`<text x="${LABEL_W - 6}" y="${y + BAR - 2}" ${FONT} font-size="8.5" fill="#1a1a1a" text-anchor="end">${escapeXml(clip(bar.label, 18))}</text>`);
      out.push(`<rect x="${LABEL_W}" y="${y}" width="${plotW}" height="${BAR}" fill="#f1f3f6"/>`);
      let x = LABEL_W;
      for (const seg of bar.segments) {
        if (!(seg.value > 0)) continue;
        const w = Math.max(1, Math.round((seg.value / max) * plotW * 10) / 10);
        const label = `${labels.get(seg.key) ?? seg.key}: ${seg.value}`;
        out.push(`<rect x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" fill="${colors.get(seg.key) ?? '#777'}"><title>${escapeXml(label)}</title></rect>`);
        x += w;
      }
      out.push(`<text x="${(x + 4).toFixed(1)}" y="${y + BAR - 2}" ${FONT} font-size="8.5" fill="#1a1a1a">${total}</text>`);
    });
  }
  if (legend) {
    let x = 0;
    for (const s of options.series) {
      out.push(`<rect x="${x}" y="${legendY}" width="8" height="8" fill="${s.color}"/>`);
      out.push(`<text x="${x + 11}" y="${legendY + 7}" ${FONT} font-size="8" fill="#333">${escapeXml(s.label)}</text>`);
      x += 14 + s.label.length * 4.6 + 6;
    }
  }
  out.push('</svg>');
  return out.join('');
}
