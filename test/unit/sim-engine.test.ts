import assert from 'node:assert/strict';
import {test} from 'node:test';
import type {ScheduledTimer, SimClock} from '../../source/sim/clock.js';
import {Engine, type GenerationJob} from '../../source/sim/engine.js';

/** A clock that only moves when told to, running due callbacks in order. */
class ManualClock implements SimClock {
	private now = 0;
	private timers: { dueMs: number; callback: () => void; cancelled: boolean }[] = [];

	monotonicMs(): number {
		return this.now;
	}

	wallMs(): number {
		return 1_767_000_000_000 + this.now;
	}

	schedule(callback: () => void, delayMs: number): ScheduledTimer {
		const timer = { dueMs: this.now + delayMs, callback, cancelled: false };
		this.timers.push(timer);
		return { cancel: () => (timer.cancelled = true), unref: () => {} };
	}

	advance(ms: number): void {
		const target = this.now + ms;
		for (;;) {
			const next = this.timers
				.filter((timer) => !timer.cancelled && timer.dueMs <= target)
				.sort((a, b) => a.dueMs - b.dueMs)[0];
			if (next === undefined) break;
			this.timers = this.timers.filter((timer) => timer !== next);
			this.now = next.dueMs;
			next.callback();
		}
		this.now = target;
	}
}

interface Recorded {
	tokens: number[];
	finished: boolean;
}

function job(clock: ManualClock, overrides: Partial<GenerationJob> & { stream?: boolean } = {}): [GenerationJob, Recorded] {
	const recorded: Recorded = { tokens: [], finished: false };
	const { stream = true, ...rest } = overrides;
	return [
		{
			requestId: 'req',
			promptTokens: 16,
			outputTokens: 3,
			finishReason: 'length',
			stalled: false,
			arrivalMs: clock.monotonicMs(),
			onToken: stream ? (index) => recorded.tokens.push(index) : null,
			onFinish: () => (recorded.finished = true),
			...rest,
		},
		recorded,
	];
}

function engine(clock: ManualClock, config: Partial<ConstructorParameters<typeof Engine>[0]> = {}, aborted: string[] = []) {
	return new Engine(
		{ maxNumSeqs: 4, tokenRate: 10, ttftMs: 50, kvCapacityTokens: 1600, ...config },
		clock,
		(id) => aborted.push(id),
	);
}

test('engine: first token after ttft, then one per 1/tokenRate', () => {
	const clock = new ManualClock();
	const sim = engine(clock);
	const [streamed, recorded] = job(clock);
	sim.submit(streamed);
	clock.advance(49);
	assert.deepEqual(recorded.tokens, []);
	clock.advance(1);
	assert.deepEqual(recorded.tokens, [0]);
	clock.advance(100);
	assert.deepEqual(recorded.tokens, [0, 1]);
	assert.equal(recorded.finished, false);
	clock.advance(100);
	assert.deepEqual(recorded.tokens, [0, 1, 2]);
	assert.equal(recorded.finished, true);
	assert.equal(sim.totals.completed, 1);
	assert.equal(sim.totals.finished.length, 1);
	assert.equal(sim.totals.timeToFirstToken.sum, 0.05);
	assert.equal(sim.totals.requestLatency.sum, 0.25);
	assert.equal(sim.generationTokens(), 3);
});

test('engine: without delays a request finishes inside submit', () => {
	const clock = new ManualClock();
	const sim = engine(clock, { tokenRate: 0, ttftMs: 0 });
	const [instant, recorded] = job(clock, { stream: false });
	const sequence = sim.submit(instant);
	assert.equal(recorded.finished, true);
	assert.equal(sequence.state, 'done');
	assert.equal(sim.runningCount, 0);
});

test('engine: non-streamed sequences count their tokens live and finish on time', () => {
	const clock = new ManualClock();
	const sim = engine(clock, { ttftMs: 0 });
	const [plain, recorded] = job(clock, { stream: false, outputTokens: 5 });
	sim.submit(plain);
	clock.advance(250);
	assert.equal(sim.generationTokens(), 3);
	assert.equal(recorded.finished, false);
	clock.advance(150);
	assert.equal(recorded.finished, true);
	assert.equal(sim.generationTokens(), 5);
});

test('engine: sequences beyond maxNumSeqs wait, in order, and start when a slot frees', () => {
	const clock = new ManualClock();
	const sim = engine(clock, { maxNumSeqs: 1 });
	const [first, firstRecorded] = job(clock, { requestId: 'first' });
	const [second, secondRecorded] = job(clock, { requestId: 'second' });
	sim.submit(first);
	sim.submit(second);
	assert.equal(sim.runningCount, 1);
	assert.equal(sim.waitingCount, 1);
	assert.equal(sim.totals.promptTokens, 16, 'a waiting prompt is not prefilled yet');
	clock.advance(250);
	assert.equal(firstRecorded.finished, true);
	assert.equal(sim.runningCount, 1);
	assert.equal(sim.waitingCount, 0);
	clock.advance(250);
	assert.equal(secondRecorded.finished, true);
});

test('engine: abort frees the slot, counts once, and the next sequence starts', () => {
	const clock = new ManualClock();
	const aborted: string[] = [];
	const sim = engine(clock, { maxNumSeqs: 1 }, aborted);
	const [stalled] = job(clock, { requestId: 'stalled', stalled: true });
	const [queued, queuedRecorded] = job(clock, { requestId: 'queued' });
	const stalledSequence = sim.submit(stalled);
	sim.submit(queued);
	clock.advance(10_000);
	assert.equal(sim.waitingCount, 1, 'a stalled sequence holds its slot forever');
	sim.abort(stalledSequence);
	sim.abort(stalledSequence);
	assert.deepEqual(aborted, ['stalled']);
	assert.equal(sim.totals.aborted, 1);
	assert.equal(sim.totals.finished.abort, 0);
	clock.advance(250);
	assert.equal(queuedRecorded.finished, true);
});

test('engine: KV usage counts whole 16-token blocks of running sequences', () => {
	const clock = new ManualClock();
	const sim = engine(clock, { ttftMs: 0, kvCapacityTokens: 1600 });
	const [streamed] = job(clock, { promptTokens: 16, outputTokens: 10 });
	sim.submit(streamed);
	assert.equal(sim.kvCacheUsage(), 2 / 100, '16 prompt tokens + the first token span two blocks');
	clock.advance(2000);
	assert.equal(sim.kvCacheUsage(), 0);
});
