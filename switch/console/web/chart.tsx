/** A uPlot chart of the overview's samples: made once, fed new data, sized to its box. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartProps {
  data: uPlot.AlignedData;
}

function options(width: number): uPlot.Options {
  return {
    width,
    height: 300,
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true }, rate: { auto: true }, ms: { auto: true } },
    axes: [
      {},
      { scale: 'rate', label: 'per s / per min' },
      { scale: 'ms', side: 1, label: 'p99 ms', grid: { show: false } },
    ],
    series: [
      {},
      { label: 'sales/s', scale: 'rate', stroke: '#1f5fbf', width: 2, spanGaps: false },
      { label: 'timeouts/min', scale: 'rate', stroke: '#c62828', width: 1.5 },
      { label: 'reversals/min', scale: 'rate', stroke: '#b26a00', width: 1.5 },
      { label: 'added p99 (ms)', scale: 'ms', stroke: '#7b1fa2', width: 1.5, dash: [6, 4] },
    ],
  };
}

export function Chart({ data }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (el === null) return undefined;
    const p = new uPlot(options(Math.max(320, el.clientWidth - 16)), data, el);
    plot.current = p;
    const onResize = (): void => p.setSize({ width: Math.max(320, el.clientWidth - 16), height: 300 });
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      p.destroy();
      plot.current = null;
    };
    // Made once: later data goes through setData below, which keeps the zoom and the cursor.
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div class="chart" ref={box} data-testid="overview-chart" />;
}
