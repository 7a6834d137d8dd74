/** Server-side SVG charts: hostile labels are escaped, bars scale to the data, empty data says so, same data same bytes. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { barChart, escapeXml } from '../../src/reporters/charts.js';

const series = [
  { key: 'pass', label: 'Pass', color: '#2f7d3e' },
  { key: 'fail', label: 'Fail', color: '#b42318' },
];

describe('barChart', () => {
  it('escapes hostile labels and titles, and contains no script, foreignObject or external reference', () => {
    const svg = barChart([{ label: '<script>alert(1)</script>', segments: [{ key: 'fail', value: 3 }] }], { title: 'A & "B" <c>', series });
    assert.ok(!svg.includes('<script>'));
    assert.ok(svg.includes('&lt;script&gt;'));
    assert.ok(svg.includes('<title>A &amp; &quot;B&quot; &lt;c&gt;</title>'));
    assert.ok(!/foreignObject|href|url\(|on[a-z]+=/i.test(svg));
    assert.equal(escapeXml(`'"<>&`), '&apos;&quot;&lt;&gt;&amp;');
  });

  it('clips long labels so one name cannot push the chart apart', () => {
    const svg = barChart([{ label: 'x'.repeat(80), segments: [{ key: 'pass', value: 1 }] }], { title: 't', series });
    assert.ok(svg.includes(`${'x'.repeat(17)}…<`));
    assert.ok(!svg.includes('x'.repeat(19)));
  });

  it('scales bars to the largest total, stacks segments in order and prints each total', () => {
    const svg = barChart(
      [
        { label: 'a', segments: [{ key: 'pass', value: 2 }, { key: 'fail', value: 2 }] },
        { label: 'b', segments: [{ key: 'pass', value: 1 }, { key: 'fail', value: 0 }] },
      ],
      { title: 't', series, width: 330 },
    );
    const widths = [...svg.matchAll(/<rect x="[\d.]+" y="\d+" width="([\d.]+)" height="11" fill="#(2f7d3e|b42318)"/g)].map((m) => [Number(m[1]), m[2]]);
    const plot = 330 - 96 - 28;
    assert.deepEqual(widths, [[plot / 2, '2f7d3e'], [plot / 2, 'b42318'], [plot / 4, '2f7d3e']]);
    assert.ok(svg.includes('>4</text>') && svg.includes('>1</text>'));
    assert.ok(svg.includes('>Pass</text>') && svg.includes('>Fail</text>'), 'legend for two series');
    assert.ok(svg.includes('<title>Fail: 2</title>'), 'each segment names its value');
  });

  it('says there is nothing to draw instead of drawing empty bars; same data, same bytes', () => {
    const empty = barChart([], { title: 't', series, emptyText: 'No failures.' });
    assert.ok(empty.includes('>No failures.</text>'));
    assert.ok(!empty.includes('height="11"'));
    assert.ok(!empty.includes('>Pass</text>'), 'no legend without bars');
    const zero = barChart([{ label: 'a', segments: [{ key: 'fail', value: 0 }] }], { title: 't', series, emptyText: 'None.' });
    assert.ok(zero.includes('>None.</text>'));
    const bars = [{ label: 'a', segments: [{ key: 'fail', value: 7 }] }];
    assert.equal(barChart(bars, { title: 't', series }), barChart(bars, { title: 't', series }));
  });
});
