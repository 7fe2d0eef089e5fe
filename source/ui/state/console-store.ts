import type {LoadStatsReply} from '../../admin/backends.js';
import type {StatusReply} from '../../admin/status.js';
import type {FleetEvent} from '../../fleet/events.js';
import type {Clock, Timer} from '../../util/clock.js';
import type {GpuPoll} from '../gpu/nvidia-smi.js';
import {envelopeMessage, type ConsoleLink, type LinkMethod, type LinkReply} from '../link/link.js';
import {backendEntry, LogBuffer, ownEntry, type LogEntry} from './log-entries.js';
import {backendRows, type BackendRow} from './rows.js';

/** What a sparkline draws for one backend, oldest sample first. */
export interface History {
	requestsPerSecond: number[];
	latencyP50Ms: number[];
	kvPercent: number[];
}

export type ToastTone = 'info' | 'ok' | 'error';

/** The status line's message: an action's outcome, or news the operator should not miss. */
export interface Toast {
	text: string;
	tone: ToastTone;
	/** Until when it shows (ms); undefined while the action it announces is under way. */
	until: number | undefined;
}

/** Everything the console shows, replaced (never mutated) on each change. */
export interface ConsoleState {
	about: StatusReply['switchboard'] | undefined;
	rows: readonly BackendRow[];
	modelsReady: number;
	modelsTotal: number;
	requestsPerSecond: number;
	errors: number;
	logs: readonly LogEntry[];
	history: ReadonlyMap<string, History>;
	toast: Toast | undefined;
	/** Why the switchboard cannot be read now (an attached console lost it); undefined when all is well. */
	trouble: string | undefined;
	/** The last nvidia-smi reading, when this machine has GPUs to show. */
	gpu: GpuPoll | undefined;
	/** A CUDA_VISIBLE_DEVICES index → the local backend holding it (`chat#0`). */
	gpuHolders: ReadonlyMap<string, string>;
}

/** Starts watching this machine's GPUs (see GpuWatch). */
export type WatchGpus = (onPoll: (poll: GpuPoll) => void) => {stop(): void};

export interface ConsoleStoreOptions {
	clock: Clock;
	/** How often /status and /load-stats are read (ms). */
	pollMs?: number;
	/** The least time between two redraws (ms); 200 by default. */
	frameMs?: number;
	/** When this machine's GPUs are the switchboard's (nvidia-smi on PATH, the switchboard local). */
	watchGpus?: WatchGpus | undefined;
}

/**
 * Frames at most this often: Ink draws at most ten a second (maxFps), and a frame every 100 ms
 * meant every other React render was never drawn, only paid for (npm run bench, console-frame).
 */
const defaultFrameMs = 200;
/** One sample every this many ms, kept for this many: the sparklines' last five minutes. */
const sampleMs = 2000;
const samplesKept = 150;
const toastMs = 6000;
/**
 * A backend's access-log line for switchboard's own health checks, scrapes and readiness probes:
 * noise in the pane (one per backend every few seconds); the backend's log file keeps them.
 */
const ownProbe = /"GET \/(?:metrics|health|ping|v1\/models) HTTP\/[\d.]+" 200\b/;
/** A state change is followed by a fresh read this soon, so keys answer at once on screen. */
const changeReadMs = 100;

/**
 * The console's single source of what to show: it reads the switchboard through a link (the admin
 * API's /status and /load-stats, and its events), and tells React when something changed, at most
 * once a frame. It holds no lifecycle state of its own: commands go back through the link.
 */
export class ConsoleStore {
	readonly #link: ConsoleLink;
	readonly #clock: Clock;
	readonly #pollMs: number;
	readonly #frameMs: number;
	readonly #listeners = new Set<() => void>();
	readonly #logs = new LogBuffer();
	readonly #history = new Map<string, History>();
	#logId = 0;
	#lastSampleAt = Number.NEGATIVE_INFINITY;
	#state: ConsoleState = {about: undefined, rows: [], modelsReady: 0, modelsTotal: 0, requestsPerSecond: 0, errors: 0, logs: [], history: new Map(), toast: undefined, trouble: undefined, gpu: undefined, gpuHolders: new Map()};
	#next: Partial<ConsoleState> = {};
	/** Log lines arrived since the last frame: the frame copies the buffer once, however many came. */
	#newLogs = false;
	#frameTimer: Timer | undefined;
	#lastFrameAt = Number.NEGATIVE_INFINITY;
	#readTimer: Timer | undefined;
	#reading = false;
	#readAgain = false;
	#toastTimer: Timer | undefined;
	#unsubscribe: (() => void) | undefined;
	/** Why the event stream is down, as the link says; undefined while it flows. */
	#streamTrouble: string | undefined;
	/** Why the last read failed; a read that works ends it. */
	#readTrouble: string | undefined;
	readonly #watchGpus: WatchGpus | undefined;
	#gpuWatch: {stop(): void} | undefined;
	#closed = false;

	constructor(link: ConsoleLink, options: ConsoleStoreOptions) {
		this.#link = link;
		this.#clock = options.clock;
		this.#pollMs = options.pollMs ?? 1000;
		this.#frameMs = options.frameMs ?? defaultFrameMs;
		this.#watchGpus = options.watchGpus;
	}

	get remote(): boolean {
		return this.#link.remote;
	}

	/** Starts reading: the last lines of switchboard's log, then events and a read every pollMs. */
	start(): void {
		this.#unsubscribe = this.#link.subscribe(event => {
			this.#event(event);
		}, trouble => {
			this.#streamTrouble = trouble;
			this.#update({trouble: this.#trouble});
		});
		void this.#link.request('GET', '/logs/tail?model=switchboard&lines=200').then(reply => {
			if (reply.status === 200) {
				// Before anything that arrived meanwhile: those lines are newer.
				const earlier = reply.body.split('\n').filter(line => line !== '').map(line => ownEntry(0, line));
				for (const entry of [...earlier, ...this.#logs.entries]) {
					this.#logs.push({...entry, id: ++this.#logId});
				}

				this.#logsChanged();
			}
		}, () => undefined);
		this.#read();
		this.#gpuWatch = this.#watchGpus?.(gpu => {
			this.#update({gpu});
		});
	}

	close(): void {
		this.#closed = true;
		this.#unsubscribe?.();
		this.#gpuWatch?.stop();
		for (const timer of [this.#frameTimer, this.#readTimer, this.#toastTimer]) {
			if (timer) {
				this.#clock.clearTimeout(timer);
			}
		}

		this.#link.close();
	}

	subscribe = (listener: () => void): (() => void) => {
		this.#listeners.add(listener);
		return () => this.#listeners.delete(listener);
	};

	getState = (): ConsoleState => this.#state;

	/**
	 * Sends an admin call for the operator and shows how it went: `doing` while it runs (a start can take
	 * minutes), then `done` or the switchboard's own error message. Resolves to whether it succeeded.
	 */
	async command(method: LinkMethod, path: string, body: unknown, words: {doing: string; done: string}): Promise<boolean> {
		this.toast(words.doing, 'info', false);
		let reply: LinkReply;
		try {
			reply = await this.#link.request(method, path, body);
		} catch (error) {
			this.toast((error as Error).message, 'error');
			return false;
		}

		const ok = reply.status >= 200 && reply.status < 300;
		this.toast(ok ? words.done : errorMessage(reply), ok ? 'ok' : 'error');
		this.#soon();
		return ok;
	}

	/** Shows `text` on the status line; it fades after a few seconds unless `fades` is false. */
	toast(text: string, tone: ToastTone = 'info', fades = true): void {
		if (this.#closed) {
			return;
		}

		if (this.#toastTimer) {
			this.#clock.clearTimeout(this.#toastTimer);
			this.#toastTimer = undefined;
		}

		const until = fades ? this.#clock.now() + toastMs : undefined;
		this.#update({toast: {text, tone, until}});
		if (fades) {
			this.#toastTimer = this.#clock.setTimeout(() => {
				this.#toastTimer = undefined;
				this.#update({toast: undefined});
			}, toastMs);
		}
	}

	#event(event: FleetEvent): void {
		switch (event.type) {
			case 'log': {
				if (ownProbe.test(event.line)) {
					return;
				}

				this.#logs.push(backendEntry(++this.#logId, event.model, event.line, event.at));
				this.#logsChanged();
				return;
			}

			case 'switchboard.log': {
				this.#logs.push(ownEntry(++this.#logId, event.line));
				this.#logsChanged();
				return;
			}

			case 'model.state': {
				if (event.state === 'failed') {
					this.toast(`${event.model} failed${event.reason ? `: ${event.reason}` : ''}`, 'error');
				}

				this.#soon();
				return;
			}

			default: {
				this.#soon();
			}
		}
	}

	/** A fresh read shortly: events say that something changed, /status says what it is now. */
	#soon(): void {
		if (this.#closed) {
			return;
		}

		if (this.#reading) {
			this.#readAgain = true;
			return;
		}

		if (this.#readTimer) {
			this.#clock.clearTimeout(this.#readTimer);
		}

		this.#readTimer = this.#clock.setTimeout(() => {
			this.#read();
		}, changeReadMs);
	}

	#read(): void {
		if (this.#closed) {
			return;
		}

		this.#reading = true;
		this.#readTimer = undefined;
		void Promise.all([this.#json<StatusReply>('/status'), this.#json<LoadStatsReply>('/load-stats')]).then(([status, loads]) => {
			this.#apply(status, loads);
		}, (error: unknown) => {
			this.#readTrouble = (error as Error).message;
			this.#update({trouble: this.#trouble});
		}).finally(() => {
			this.#reading = false;
			if (this.#closed) {
				return;
			}

			const again = this.#readAgain;
			this.#readAgain = false;
			this.#readTimer = this.#clock.setTimeout(() => {
				this.#read();
			}, again ? changeReadMs : this.#pollMs);
		});
	}

	async #json<T>(path: string): Promise<T> {
		const reply = await this.#link.request('GET', path);
		if (reply.status !== 200) {
			throw new Error(`GET ${path}: ${errorMessage(reply)}`);
		}

		return JSON.parse(reply.body) as T;
	}

	get #trouble(): string | undefined {
		return this.#streamTrouble ?? this.#readTrouble;
	}

	#apply(status: StatusReply, loads: LoadStatsReply): void {
		this.#readTrouble = undefined;
		const rows = backendRows(status, loads);
		const now = this.#clock.now();
		if (now - this.#lastSampleAt >= sampleMs) {
			this.#lastSampleAt = now;
			this.#sample(rows);
		}

		this.#update({
			about: status.switchboard,
			rows,
			modelsReady: status.models.filter(model => model.state === 'ready').length,
			modelsTotal: status.models.length,
			requestsPerSecond: loads.servers.reduce((sum, server) => sum + server.detailed_metrics.requests_per_second, 0),
			errors: status.models.reduce((sum, model) => sum + model.errors, 0),
			history: new Map(this.#history),
			gpuHolders: sameEntries(this.#state.gpuHolders, holders(rows)),
			trouble: this.#trouble,
		});
	}

	#sample(rows: readonly BackendRow[]): void {
		const seen = new Set<string>();
		for (const row of rows) {
			if (row.url === undefined) {
				continue;
			}

			seen.add(row.key);
			let history = this.#history.get(row.key);
			if (!history) {
				history = {requestsPerSecond: [], latencyP50Ms: [], kvPercent: []};
				this.#history.set(row.key, history);
			}

			// A new array each time: the previous state's history stays as it was drawn.
			history.requestsPerSecond = [...history.requestsPerSecond, row.requestsPerSecond ?? 0].slice(-samplesKept);
			history.latencyP50Ms = [...history.latencyP50Ms, row.latencyP50Ms ?? 0].slice(-samplesKept);
			history.kvPercent = [...history.kvPercent, row.kvPercent ?? 0].slice(-samplesKept);
		}

		for (const key of this.#history.keys()) {
			if (!seen.has(key)) {
				this.#history.delete(key);
			}
		}
	}

	#logsChanged(): void {
		this.#newLogs = true;
		this.#update({});
	}

	/** Takes `change` into the next frame, drawn at most once every frameMs. */
	#update(change: Partial<ConsoleState>): void {
		Object.assign(this.#next, change);
		if (this.#frameTimer || this.#closed) {
			return;
		}

		const wait = Math.max(0, this.#lastFrameAt + this.#frameMs - this.#clock.now());
		this.#frameTimer = this.#clock.setTimeout(() => {
			this.#frameTimer = undefined;
			this.#lastFrameAt = this.#clock.now();
			this.#state = {...this.#state, ...this.#next, ...(this.#newLogs ? {logs: this.#logs.entries.slice()} : {})};
			this.#next = {};
			this.#newLogs = false;
			for (const listener of this.#listeners) {
				listener();
			}
		}, wait);
	}
}

/** Which local backend holds each GPU, from the CUDA_VISIBLE_DEVICES switchboard gave it. */
function holders(rows: readonly BackendRow[]): Map<string, string> {
	const held = new Map<string, string>();
	for (const row of rows) {
		if (row.launcher === 'local' && row.replica !== undefined) {
			for (const gpu of row.gpus) {
				held.set(gpu, `${row.model}#${row.replica}`);
			}
		}
	}

	return held;
}

/** `next`, or `previous` when they hold the same entries: the GPU strip redraws only when a holder changed. */
function sameEntries(previous: ReadonlyMap<string, string>, next: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
	return previous.size === next.size && [...next].every(([gpu, holder]) => previous.get(gpu) === holder) ? previous : next;
}

/** The message of an admin error reply (OpenAI's envelope), or its status and text. */
function errorMessage(reply: LinkReply): string {
	return envelopeMessage(reply.body) ?? `HTTP ${reply.status}${reply.body.trim() === '' ? '' : `: ${reply.body.trim().slice(0, 200)}`}`;
}
