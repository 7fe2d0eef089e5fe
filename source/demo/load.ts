import {systemClock, type Clock, type Timer} from '../util/clock.js';

/** A model the load sends to, and its share of the requests relative to the others. */
export interface LoadTarget {
	name: string;
	weight: number;
}

export interface DemoRequest {
	model: string;
	stream: boolean;
	maxTokens: number;
	prompt: string;
}

/** Sends one request and settles once its answer has been read to the end; `signal` aborts it. */
export type SendRequest = (request: DemoRequest, signal: AbortSignal) => Promise<void>;

export interface DemoLoadOptions {
	/** switchboard's proxy, on 127.0.0.1: the load goes nowhere else. */
	url: string;
	models: readonly LoadTarget[];
	/** Sent as a bearer key when switchboard wants one. */
	apiKey?: string | undefined;
	clock?: Clock;
	/** Returns [0, 1). */
	random?: () => number;
	/** How a request goes out: a chat completion through fetch unless replaced (by tests). */
	send?: SendRequest;
}

export interface DemoLoad {
	/** Sends nothing more and aborts the requests in flight. */
	stop(): void;
}

/** A light load: past this, arrivals are dropped rather than queued. */
export const maxInFlight = 8;

/** Long enough for a request that waits for the slow model to load, then streams its answer. */
export const requestTimeoutMs = 45_000;

/** A stretch of the load: requests arrive at random (a Poisson process) at this mean rate, for a while. */
interface Phase {
	perSecond: number;
	lastsMs: readonly [number, number];
}

const steady: Phase = {perSecond: 1.5, lastsMs: [15_000, 40_000]};
const burst: Phase = {perSecond: 6, lastsMs: [2000, 6000]};
const pause: Phase = {perSecond: 0, lastsMs: [3000, 10_000]};

/** Share of the requests that stream their answer, as most chat clients do. */
const streamingShare = 0.75;
const fewestTokens = 12;
const mostTokens = 64;

const prompts = [
	'Write a haiku about GPUs.',
	'Explain KV caches in one paragraph.',
	'What is the capital of France?',
	'Summarise the plot of Hamlet.',
	'Give me three names for a cat.',
	'Translate "good morning" into Italian.',
];

/**
 * A synthetic load through switchboard's proxy, so that a demo's models load, serve, fail and go
 * idle on their own: about 1.6 chat completions a second over a steady stretch, then a burst or a
 * pause, and again; each to a model picked by weight. Failures are ignored: they are part of the show.
 */
export function startDemoLoad({url, models, apiKey, clock = systemClock, random = Math.random, send = chatCompletion(url, apiKey)}: DemoLoadOptions): DemoLoad {
	if (new URL(url).hostname !== '127.0.0.1') {
		throw new RangeError(`The demo's load goes to a switchboard on 127.0.0.1 only, not to ${url}.`);
	}

	const between = ([low, high]: readonly [number, number]) => low + (random() * (high - low));
	const totalWeight = models.reduce((sum, model) => sum + model.weight, 0);
	const pickModel = (): string => {
		let point = random() * totalWeight;
		const picked = models.find(model => (point -= model.weight) < 0);
		return (picked ?? models.at(-1)!).name;
	};

	const inFlight = new Set<AbortController>();
	const fire = () => {
		if (inFlight.size >= maxInFlight) {
			return;
		}

		const request: DemoRequest = {
			model: pickModel(),
			stream: random() < streamingShare,
			maxTokens: Math.floor(between([fewestTokens, mostTokens + 1])),
			prompt: prompts[Math.floor(random() * prompts.length)]!,
		};
		const controller = new AbortController();
		inFlight.add(controller);
		const timeout = clock.setTimeout(() => {
			controller.abort();
		}, requestTimeoutMs);
		void send(request, controller.signal).catch(() => undefined).finally(() => {
			clock.clearTimeout(timeout);
			inFlight.delete(controller);
		});
	};

	// Starts steady, so that the first seconds already show traffic.
	let phase = steady;
	let phaseEndsAt = clock.now() + between(steady.lastsMs);
	let timer: Timer;
	const scheduleNext = () => {
		const now = clock.now();
		// Exponential gaps; drawn afresh when a phase begins, which the process's lack of memory allows.
		const gap = phase.perSecond === 0 ? Number.POSITIVE_INFINITY : -Math.log(1 - random()) * 1000 / phase.perSecond;
		const phaseOver = now + gap >= phaseEndsAt;
		timer = clock.setTimeout(() => {
			if (phaseOver) {
				phase = phase === steady ? (random() < 0.5 ? burst : pause) : steady;
				phaseEndsAt = clock.now() + between(phase.lastsMs);
			} else {
				fire();
			}

			scheduleNext();
		}, phaseOver ? phaseEndsAt - now : gap);
	};

	scheduleNext();
	return {
		stop() {
			clock.clearTimeout(timer);
			for (const controller of inFlight) {
				controller.abort();
			}
		},
	};
}

/** An OpenAI chat completion through fetch, its answer read to the end: a stream holds its backend until then. */
function chatCompletion(url: string, apiKey: string | undefined): SendRequest {
	return async ({model, stream, maxTokens, prompt}, signal) => {
		const response = await fetch(`${url}/v1/chat/completions`, {
			method: 'POST',
			headers: {'content-type': 'application/json', ...apiKey !== undefined && {authorization: `Bearer ${apiKey}`}},
			body: JSON.stringify({model, stream, max_tokens: maxTokens, messages: [{role: 'user', content: prompt}]}),
			signal,
		});
		await response.arrayBuffer();
	};
}
