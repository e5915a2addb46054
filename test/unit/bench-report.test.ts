/** The bench's summary table decides "Holds" from the medians and rates, not from rounded ratios. */
import { expect, it } from 'vitest';
import { summaryTable, type BenchResults } from '../bench/report.js';

function results(over: { agent?: [number, number]; cli?: [number, number]; mongo?: [number, number, number] } = {}): BenchResults {
  const [agentMs, agentNode] = over.agent ?? [80, 62];
  const [cliMs, cliNode] = over.cli ?? [80, 62];
  const [fresh, driver, after] = over.mongo ?? [600, 1000, 590];
  const startup = (ms: number, node: number) => ({ medianMs: ms, nodeMedianMs: node, ratio: Math.round((ms / node) * 100) / 100, floorMedianMs: null, floorRatio: null });
  return {
    resolve: { rps: 1000, noopRps: 1000, ratio: 1, p50Ms: 2, p99Ms: 50 },
    fanout: { watchers: 5000, p50Ms: 40, p99Ms: 100, etcdP50Ms: 40, etcdP99Ms: 250 },
    agent: startup(agentMs, agentNode),
    server: { rssMbConnected: 100, rssMbAfterUpdates: 105, rssMbAt5kWatchers: 105 },
    cli: startup(cliMs, cliNode),
    writes: { sqlitePerSec: 500, mongoPerSec: fresh, mongoDriverPerSec: driver, mongoRatio: Math.round((fresh / driver) * 100) / 100, mongoFreshPerSec: fresh, mongoAfter10kPerSec: after } as BenchResults['writes'],
    machine: { nproc: 2, cpuModel: 'test', memGb: 1, node: 'v20', os: 'Linux', placement: '', mode: 'quick' } as BenchResults['machine'],
    date: '2026-12-08T00:00:00.000Z',
  };
}

const holds = (r: BenchResults, row: RegExp) => {
  const line = summaryTable(r, null).split('\n').find((l) => row.test(l))!;
  return line.split('|').at(-2)!.trim();
};

it('an agent at 1.403× node -e 0 misses the 1.4 bar, though its ratio prints as 1.4', () => {
  expect(results({ agent: [92.3, 65.8] }).agent.ratio).toBe(1.4);
  expect(holds(results({ agent: [92.3, 65.8] }), /sg-agent exec/)).toBe('**no**');
  expect(holds(results({ agent: [92.0, 65.8] }), /sg-agent exec/)).toBe('yes');
});

it('the CLI bar and the MongoDB ratio are decided the same way', () => {
  expect(holds(results({ cli: [94.1, 62.7] }), /sg project list/)).toBe('**no**'); // 1.5008
  expect(holds(results({ cli: [94.0, 62.7] }), /sg project list/)).toBe('yes');
  expect(results({ mongo: [498, 1000, 498] }).writes.mongoRatio).toBe(0.5);
  expect(holds(results({ mongo: [498, 1000, 498] }), /MongoDB \(FerretDB\)/)).toBe('**no**');
  expect(holds(results({ mongo: [500, 1000, 400] }), /MongoDB \(FerretDB\)/)).toBe('yes');
});
