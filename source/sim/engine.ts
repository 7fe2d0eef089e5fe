import type {ScheduledTimer, SimClock} from './clock.js';
import {Histogram, REQUEST_LATENCY_BUCKETS, TIME_TO_FIRST_TOKEN_BUCKETS} from './histogram.js';

export type FinishReason = 'stop' | 'length';

/** Reasons vLLM pre-creates `vllm:request_success_total` series for. */
export const FINISHED_REASONS = ['stop', 'length', 'abort', 'error'] as const;
export type FinishedReason = (typeof FINISHED_REASONS)[number];

/** vLLM allocates KV cache in blocks of this many tokens. */
export const KV_BLOCK_SIZE = 16;

export interface EngineConfig {
	maxNumSeqs: number;
	tokenRate: number;
	ttftMs: number;
	kvCapacityTokens: number;
}

export interface GenerationJob {
	requestId: string;
	promptTokens: number;
	/** Tokens to produce, at least one. */
	outputTokens: number;
	finishReason: FinishReason;
	/** Hold a slot but never produce a token, like a hung engine. */
	stalled: boolean;
	/** Monotonic arrival time; latencies are measured from it, queueing included. */
	arrivalMs: number;
	/** Streams hear about each token as it is produced; null means only completion matters. */
	onToken: ((index: number) => void) | null;
	onFinish: () => void;
}

type SequenceState = 'waiting' | 'running' | 'done';

export class Sequence {
	state: SequenceState = 'waiting';
	admittedMs = 0;
	emittedTokens = 0;
	firstTokenMs = 0;
	timer: ScheduledTimer | null = null;

	constructor(readonly job: GenerationJob) {}
}

/** Cumulative counters behind /metrics and stats(). */
export class EngineTotals {
	promptTokens = 0;
	/** Tokens of sequences that have left the engine; running ones are added live. */
	settledGenerationTokens = 0;
	readonly finished: Record<FinishedReason, number> = { stop: 0, length: 0, abort: 0, error: 0 };
	/** Client disconnects. vLLM does not count these in request_success_total{finished_reason="abort"}. */
	aborted = 0;
	completed = 0;
	readonly timeToFirstToken = new Histogram(TIME_TO_FIRST_TOKEN_BUCKETS);
	readonly requestLatency = new Histogram(REQUEST_LATENCY_BUCKETS);
}

/**
 * A continuous-batching scheduler in miniature: up to `maxNumSeqs` sequences
 * run at once, each producing tokens at `tokenRate` after `ttftMs`; the rest
 * wait in arrival order. With no delays configured a sequence finishes inside
 * `submit`, so a zero-latency backend needs no timers at all.
 */
export class Engine {
	readonly totals = new EngineTotals();
	private readonly running = new Set<Sequence>();
	private readonly waiting = new Set<Sequence>();
	private readonly tokenIntervalMs: number;
	private readonly kvCapacityBlocks: number;
	private admitting = false;

	constructor(
		private readonly config: EngineConfig,
		private readonly clock: SimClock,
		private readonly onAbort: (requestId: string) => void,
	) {
		this.tokenIntervalMs = config.tokenRate > 0 ? 1000 / config.tokenRate : 0;
		this.kvCapacityBlocks = Math.max(1, Math.ceil(config.kvCapacityTokens / KV_BLOCK_SIZE));
	}

	get runningCount(): number {
		return this.running.size;
	}

	get waitingCount(): number {
		return this.waiting.size;
	}

	submit(job: GenerationJob): Sequence {
		const sequence = new Sequence(job);
		this.waiting.add(sequence);
		this.admitWaiting();
		return sequence;
	}

	/** The client went away: free the slot at once and forget the sequence. */
	abort(sequence: Sequence): void {
		if (sequence.state === 'done') return;
		const wasRunning = sequence.state === 'running';
		this.stopTimer(sequence);
		if (wasRunning) {
			this.running.delete(sequence);
			this.totals.settledGenerationTokens += this.tokensProducedSoFar(sequence, this.clock.monotonicMs());
		} else {
			this.waiting.delete(sequence);
		}
		sequence.state = 'done';
		this.totals.aborted++;
		this.onAbort(sequence.job.requestId);
		if (wasRunning) this.admitWaiting();
	}

	/** Embedding requests skip the scheduler but still count as processed requests. */
	recordPoolingRequest(promptTokens: number, arrivalMs: number): void {
		const elapsedSeconds = (this.clock.monotonicMs() - arrivalMs) / 1000;
		this.totals.promptTokens += promptTokens;
		this.totals.finished.stop++;
		this.totals.timeToFirstToken.observe(elapsedSeconds);
		this.totals.requestLatency.observe(elapsedSeconds);
	}

	/** Drops every sequence without counting anything: the server is going away. */
	shutdown(): void {
		for (const sequence of [...this.running, ...this.waiting]) {
			this.stopTimer(sequence);
			sequence.state = 'done';
		}
		this.running.clear();
		this.waiting.clear();
	}

	/** Generation tokens so far, including those of sequences still running. */
	generationTokens(): number {
		const now = this.clock.monotonicMs();
		let live = 0;
		for (const sequence of this.running) live += this.tokensProducedSoFar(sequence, now);
		return this.totals.settledGenerationTokens + live;
	}

	/** Fraction of the notional KV cache held by running sequences, counted in whole blocks like vLLM. */
	kvCacheUsage(): number {
		const now = this.clock.monotonicMs();
		let blocks = 0;
		for (const sequence of this.running) {
			const tokens = sequence.job.promptTokens + this.tokensProducedSoFar(sequence, now);
			blocks += Math.ceil(tokens / KV_BLOCK_SIZE);
		}
		return Math.min(1, blocks / this.kvCapacityBlocks);
	}

	private admitWaiting(): void {
		// A sequence that finishes synchronously calls back in here; the outer loop
		// keeps admitting, so a long queue of instant requests cannot grow the stack.
		if (this.admitting) return;
		this.admitting = true;
		try {
			for (const sequence of this.waiting) {
				if (this.running.size >= this.config.maxNumSeqs) break;
				this.waiting.delete(sequence);
				this.start(sequence);
			}
		} finally {
			this.admitting = false;
		}
	}

	private start(sequence: Sequence): void {
		sequence.state = 'running';
		sequence.admittedMs = this.clock.monotonicMs();
		this.running.add(sequence);
		this.totals.promptTokens += sequence.job.promptTokens;
		if (!sequence.job.stalled) this.advance(sequence);
	}

	private advance(sequence: Sequence): void {
		const { job } = sequence;
		const now = this.clock.monotonicMs();
		if (job.onToken === null) {
			const finishMs = this.tokenDueMs(sequence, job.outputTokens - 1);
			if (finishMs > now) return this.wakeAt(sequence, finishMs, now);
			sequence.firstTokenMs = this.tokenDueMs(sequence, 0);
			return this.finish(sequence, now);
		}
		while (sequence.emittedTokens < job.outputTokens) {
			const dueMs = this.tokenDueMs(sequence, sequence.emittedTokens);
			if (dueMs > now) return this.wakeAt(sequence, dueMs, now);
			if (sequence.emittedTokens === 0) sequence.firstTokenMs = now;
			job.onToken(sequence.emittedTokens++);
			if (sequence.state !== 'running') return;
		}
		this.finish(sequence, now);
	}

	private wakeAt(sequence: Sequence, dueMs: number, now: number): void {
		sequence.timer = this.clock.schedule(() => {
			sequence.timer = null;
			this.advance(sequence);
		}, dueMs - now);
	}

	private finish(sequence: Sequence, now: number): void {
		const { job } = sequence;
		sequence.state = 'done';
		this.running.delete(sequence);
		const totals = this.totals;
		totals.settledGenerationTokens += job.outputTokens;
		totals.finished[job.finishReason]++;
		totals.completed++;
		totals.timeToFirstToken.observe((sequence.firstTokenMs - job.arrivalMs) / 1000);
		totals.requestLatency.observe((now - job.arrivalMs) / 1000);
		job.onFinish();
		this.admitWaiting();
	}

	private tokenDueMs(sequence: Sequence, index: number): number {
		return sequence.admittedMs + this.config.ttftMs + index * this.tokenIntervalMs;
	}

	private tokensProducedSoFar(sequence: Sequence, now: number): number {
		const { job } = sequence;
		if (job.stalled) return 0;
		if (job.onToken !== null) return sequence.emittedTokens;
		const firstDueMs = this.tokenDueMs(sequence, 0);
		if (now < firstDueMs) return 0;
		if (this.tokenIntervalMs === 0) return job.outputTokens;
		return Math.min(job.outputTokens, 1 + Math.floor((now - firstDueMs) / this.tokenIntervalMs));
	}

	private stopTimer(sequence: Sequence): void {
		sequence.timer?.cancel();
		sequence.timer = null;
	}
}
