import type {SimClock} from './clock.js';
import type {Engine} from './engine.js';
import type {SimLogger} from './log.js';

export interface StatsLog {
	stop(): void;
}

/**
 * vLLM's periodic engine stats line (`LoggingStatLogger`), printed only while
 * there is something to report. The timer is unref'd so it never keeps the
 * process alive.
 */
export function startStatsLog(engine: Engine, logger: SimLogger, clock: SimClock, intervalMs: number, legacy: boolean): StatsLog {
	let last = { atMs: clock.monotonicMs(), promptTokens: engine.totals.promptTokens, generationTokens: engine.generationTokens() };
	let lastWasIdle = true;
	let timer = arm();

	function arm() {
		const scheduled = clock.schedule(tick, intervalMs);
		scheduled.unref();
		return scheduled;
	}

	function tick() {
		const now = { atMs: clock.monotonicMs(), promptTokens: engine.totals.promptTokens, generationTokens: engine.generationTokens() };
		const seconds = Math.max((now.atMs - last.atMs) / 1000, 1e-9);
		const promptRate = (now.promptTokens - last.promptTokens) / seconds;
		const generationRate = (now.generationTokens - last.generationTokens) / seconds;
		const idle = promptRate === 0 && generationRate === 0 && engine.runningCount === 0 && engine.waitingCount === 0;
		// Like vLLM, one idle line follows activity; after that, silence until work resumes.
		if (!(idle && lastWasIdle)) logger.info(legacy ? 'metrics.py:455' : 'loggers.py:236', statsLine(engine, promptRate, generationRate, legacy));
		lastWasIdle = idle;
		last = now;
		timer = arm();
	}

	return {
		stop: () => timer.cancel(),
	};
}

function statsLine(engine: Engine, promptRate: number, generationRate: number, legacy: boolean): string {
	const throughput = `Avg prompt throughput: ${promptRate.toFixed(1)} tokens/s, Avg generation throughput: ${generationRate.toFixed(1)} tokens/s`;
	const kvPercent = (engine.kvCacheUsage() * 100).toFixed(1);
	return legacy
		? `${throughput}, Running: ${engine.runningCount} reqs, Swapped: 0 reqs, Pending: ${engine.waitingCount} reqs, GPU KV cache usage: ${kvPercent}%, CPU KV cache usage: 0.0%.`
		: `Engine 000: ${throughput}, Running: ${engine.runningCount} reqs, Waiting: ${engine.waitingCount} reqs, GPU KV cache usage: ${kvPercent}%, Prefix cache hit rate: 0.0%`;
}
