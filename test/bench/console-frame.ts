/**
 * What a frame of the console costs: the real App (dist/ui/app.js) rendered by Ink into a
 * terminal that discards what it gets, over a ConsoleStore that reads test/bench/console-link.ts
 * (20 ready replicas whose figures change on every read, log lines arriving). The design's budget
 * is ≤ 5 ms of CPU per frame with 20 backends and a 15-line log pane.
 *
 * Frames are driven one at a time on a clock of the bench's own (time moves only between frames),
 * each with new figures and new log lines, and each is measured with process.cpuUsage(): from the
 * store's read through React and Ink's layout to the bytes written. Then the console runs on the
 * system clock as switchboard runs it (a read a second, a frame at most every 100 ms, Ink at 10
 * fps) under a steady stream of log lines, and its redraws per second and CPU are counted.
 */
import {PassThrough, Writable} from 'node:stream';
import {setTimeout as sleep} from 'node:timers/promises';
import {stripVTControlCharacters} from 'node:util';
import type {Instance, RenderOptions} from 'ink';
import {loadConsole} from '../../dist/ui/load-console.js';
import type {ConsoleStoreOptions} from '../../dist/ui/state/console-store.js';
import {systemClock, type Clock, type Timer} from '../../dist/util/clock.js';
import {BusyFleetLink} from './console-link.js';
import {progress} from './measure.js';
import type {ConsoleFrameMeasurements, ConsoleView, SteadyConsole} from './report.js';
import {summarize} from './stats.js';

const models = 4;
const replicasPerModel = 5;
/** Header, table header, the pane's title rule, status line and footer: the lines around the table and the pane. */
const fixedLines = 5;
const logPaneLines = 15;
/** The console's own pace: a frame at most every 100 ms (the store), Ink at 10 fps. */
const frameMs = 100;
const consoleMaxFps = 10;
/** Log lines per measured frame: a busy backend's access log. */
const linesPerFrame = 5;
const framesMeasured = 200;
/**
 * Untimed frames before the measured ones, 2 s apart: the sparklines' history fills (150 samples,
 * five minutes, as in a console that has been open a while) and the JIT settles.
 */
const warmupFrames = 150;
const warmupStepMs = 2000;
/** Steady run: a log line every 5 ms, new figures every second (as often as the store reads them). */
const steadyLineMs = 5;

export async function measureConsoleFrames(steadySeconds: number): Promise<ConsoleFrameMeasurements> {
	const ui = await consoleModules();
	const tall = fixedLines + (models * replicasPerModel) + logPaneLines;
	progress(`console frames: ${models * replicasPerModel} replicas, ${linesPerFrame} log lines and new figures each frame, ${framesMeasured} frames per view after ${warmupFrames} untimed`);
	const views: ConsoleView[] = [];
	for (const view of [
		{name: 'log pane', columns: 160, rows: tall, detail: false},
		{name: 'detail pane', columns: 160, rows: tall, detail: true},
		{name: 'log pane', columns: 80, rows: 24, detail: false},
	]) {
		views.push(await measureView(ui, view));
	}

	return {
		replicas: models * replicasPerModel,
		logPaneLines,
		linesPerFrame,
		budgetMs: 5,
		views,
		steady: await measureSteady(ui, steadySeconds),
	};
}

/**
 * The console's modules as the binary loads them: React chooses its build (development or
 * production) when first loaded, so nothing of React or Ink is imported before loadConsole().
 */
async function consoleModules() {
	await loadConsole();
	const [{render}, {createElement}, {App}, {ConsoleStore}, {ColorContext}] = await Promise.all([
		import('ink'),
		import('react'),
		import('../../dist/ui/app.js'),
		import('../../dist/ui/state/console-store.js'),
		import('../../dist/ui/theme.js'),
	]);
	return {render, createElement, App, ConsoleStore, ColorContext};
}

type ConsoleModules = Awaited<ReturnType<typeof consoleModules>>;

async function measureView(ui: ConsoleModules, view: {name: string; columns: number; rows: number; detail: boolean}): Promise<ConsoleView> {
	const clock = new SteppedClock();
	const link = new BusyFleetLink(clock, models, replicasPerModel);
	// A read every frame, so that each frame has new figures to parse and lay out.
	const mounted = mountConsole(ui, link, {clock, pollMs: frameMs, frameMs}, view, 1000);
	/** Moves the clock `ms` with new figures and log lines, and measures the frame that follows. */
	const frame = async (ms: number) => {
		link.change(linesPerFrame);
		const rendersBefore = mounted.renders;
		const inkBefore = mounted.inkRenderMs;
		const cpuBefore = process.cpuUsage();
		link.deliverLogs();
		await clock.step(ms);
		// Ink throttles at 1000 fps here: a second render in the frame (a timer of the App's) comes within 1 ms.
		await sleep(2);
		const cpu = process.cpuUsage(cpuBefore);
		if (mounted.renders === rendersBefore) {
			throw new Error('the console drew no frame after new figures and log lines');
		}

		return {cpuMs: (cpu.user + cpu.system) / 1000, inkRenderMs: mounted.inkRenderMs - inkBefore};
	};

	try {
		if (view.detail) {
			mounted.keyboard.write('\r');
			await clock.step(frameMs);
		}

		for (let index = 0; index < warmupFrames; index++) {
			await frame(warmupStepMs);
		}

		expectShown(mounted.screen.lastFrame, view);
		const cpuMs: number[] = [];
		const inkRenderMs: number[] = [];
		const rendersBefore = mounted.renders;
		const bytesBefore = mounted.screen.bytes;
		for (let index = 0; index < framesMeasured; index++) {
			const measured = await frame(frameMs);
			cpuMs.push(measured.cpuMs);
			inkRenderMs.push(measured.inkRenderMs);
		}

		const result: ConsoleView = {
			name: view.name,
			columns: view.columns,
			rows: view.rows,
			frames: framesMeasured,
			rendersPerFrame: (mounted.renders - rendersBefore) / framesMeasured,
			bytesPerFrame: (mounted.screen.bytes - bytesBefore) / framesMeasured,
			cpuMs: summarize(cpuMs),
			inkRenderMs: summarize(inkRenderMs),
		};
		progress(`console ${view.name} at ${view.columns}×${view.rows}: CPU per frame mean ${result.cpuMs.mean.toFixed(2)} ms, p95 ${result.cpuMs.p95.toFixed(2)} ms `
			+ `(Ink's render to text, wall time: ${result.inkRenderMs.mean.toFixed(2)} ms); ${result.rendersPerFrame.toFixed(2)} Ink renders per frame`);
		return result;
	} finally {
		mounted.unmount();
	}
}

/**
 * A measurement of another view than the one named would mislead: the frame fills the screen, shows
 * the pane asked for, and on a screen tall enough gives that pane its 15 lines.
 */
function expectShown(frame: string, view: {name: string; columns: number; rows: number; detail: boolean}): void {
	const lines = stripVTControlCharacters(frame).split('\n');
	const title = lines.findIndex(line => line.includes(view.detail ? ' · details ' : ' logs · following '));
	// Under the pane: the status line and the footer.
	const paneLines = lines.length - title - 3;
	const tall = view.rows >= fixedLines + (models * replicasPerModel) + logPaneLines;
	if (lines.length !== view.rows || title === -1 || (tall && paneLines !== logPaneLines)) {
		throw new Error(`the console's ${view.name} at ${view.columns}×${view.rows} drew ${lines.length} lines, its pane ${title === -1 ? 'not found' : `${paneLines} lines`}:\n${lines.join('\n')}`);
	}
}

/** The console as switchboard runs it, on the system clock, for `seconds` of log lines and changing figures. */
async function measureSteady(ui: ConsoleModules, seconds: number): Promise<SteadyConsole> {
	const link = new BusyFleetLink(systemClock, models, replicasPerModel);
	const mounted = mountConsole(ui, link, {clock: systemClock}, {columns: 160, rows: fixedLines + link.replicas + logPaneLines}, consoleMaxFps);
	const lines = setInterval(() => {
		link.nextLines(1);
		link.deliverLogs();
	}, steadyLineMs);
	const figures = setInterval(() => {
		link.change(0);
	}, 1000);
	try {
		// The first read, the first frames and the JIT are not the steady state.
		await sleep(1000);
		const rendersBefore = mounted.renders;
		const storeFramesBefore = mounted.storeFrames;
		const cpuBefore = process.cpuUsage();
		const startedAt = performance.now();
		await sleep(seconds * 1000);
		const cpu = process.cpuUsage(cpuBefore);
		const elapsedMs = performance.now() - startedAt;
		const renders = mounted.renders - rendersBefore;
		const result: SteadyConsole = {
			seconds: elapsedMs / 1000,
			logLinesPerSecond: 1000 / steadyLineMs,
			renders,
			rendersPerSecond: renders / (elapsedMs / 1000),
			storeFramesPerSecond: (mounted.storeFrames - storeFramesBefore) / (elapsedMs / 1000),
			cpuPercent: (cpu.user + cpu.system) / 1000 / elapsedMs * 100,
		};
		progress(`console on the system clock, ${result.logLinesPerSecond} log lines/s: ${result.rendersPerSecond.toFixed(1)} redraws/s (the store's frames, each a React render: ${result.storeFramesPerSecond.toFixed(1)}/s), `
			+ `${result.cpuPercent.toFixed(1)}% of a core`);
		return result;
	} finally {
		clearInterval(lines);
		clearInterval(figures);
		mounted.unmount();
	}
}

interface MountedConsole {
	readonly screen: Screen;
	readonly keyboard: Keyboard;
	/** Ink renders so far. */
	readonly renders: number;
	/** Wall time of Ink's renders so far, by its own onRender metrics. */
	readonly inkRenderMs: number;
	/** The store's frames so far: each one renders the App in React, whether Ink draws it or not. */
	readonly storeFrames: number;
	unmount(): void;
}

function mountConsole(ui: ConsoleModules, link: BusyFleetLink, options: ConsoleStoreOptions, size: {columns: number; rows: number}, maxFps: number): MountedConsole {
	const {clock} = options;
	const store = new ui.ConsoleStore(link, options);
	const screen = new Screen(size.columns, size.rows);
	const keyboard = new Keyboard();
	let renders = 0;
	let inkRenderMs = 0;
	const renderOptions: RenderOptions = {
		stdout: screen as unknown as NodeJS.WriteStream,
		stderr: screen as unknown as NodeJS.WriteStream,
		stdin: keyboard as unknown as NodeJS.ReadStream,
		exitOnCtrlC: false,
		patchConsole: false,
		maxFps,
		onRender(metrics) {
			renders++;
			inkRenderMs += metrics.renderTime;
		},
	};
	let storeFrames = 0;
	store.subscribe(() => {
		storeFrames++;
	});
	// As runConsole does it: the store first, then Ink.
	store.start();
	const instance: Instance = ui.render(
		ui.createElement(ui.ColorContext.Provider, {value: true}, ui.createElement(ui.App, {store, clock, quit: async () => undefined})),
		renderOptions,
	);
	return {
		screen,
		keyboard,
		get renders() {
			return renders;
		},
		get inkRenderMs() {
			return inkRenderMs;
		},
		get storeFrames() {
			return storeFrames;
		},
		unmount() {
			instance.unmount();
			instance.cleanup();
			store.close();
		},
	};
}

/** A terminal of a fixed size that takes what Ink writes and keeps only the last frame and a count of bytes. */
class Screen extends Writable {
	readonly isTTY = true;
	bytes = 0;
	/** Ink writes a frame whole, between short escape sequences. */
	lastFrame = '';

	constructor(readonly columns: number, readonly rows: number) {
		super({decodeStrings: false});
	}

	override _write(chunk: string | Uint8Array, _encoding: BufferEncoding, done: () => void): void {
		this.bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
		if (chunk.length > 64) {
			this.lastFrame = String(chunk);
		}

		done();
	}
}

/** Keys for Ink, as a terminal in raw mode would give them. */
class Keyboard extends PassThrough {
	readonly isTTY = true;

	constructor() {
		super({encoding: 'utf8'});
	}

	setRawMode(): this {
		return this;
	}

	ref(): this {
		return this;
	}

	unref(): this {
		return this;
	}
}

interface Scheduled extends Timer {
	at: number;
	order: number;
	callback: () => void;
}

/**
 * Time that moves only in step(): it jumps, then the timers that came due run once each, in
 * order, each followed by the promises it started (a read's reply, the frame after it). A timer
 * set meanwhile for later (the next read) waits for a later step, so a long step costs one read
 * and one frame, not a read every 100 ms of it.
 */
class SteppedClock implements Clock {
	#now = Date.UTC(2025, 0, 1, 12, 30);
	#order = 0;
	#timers: Scheduled[] = [];

	now(): number {
		return this.#now;
	}

	setTimeout(callback: () => void, ms: number): Timer {
		const timer: Scheduled = {at: this.#now + ms, order: this.#order++, callback};
		this.#timers.push(timer);
		return timer;
	}

	clearTimeout(timer: Timer): void {
		this.#timers = this.#timers.filter(scheduled => scheduled !== timer);
	}

	async step(ms: number): Promise<void> {
		this.#now += ms;
		for (;;) {
			const due = this.#timers.filter(timer => timer.at <= this.#now).sort((a, b) => a.at - b.at || a.order - b.order)[0];
			if (!due) {
				return;
			}

			this.#timers = this.#timers.filter(timer => timer !== due);
			due.callback();
			await settle();
		}
	}
}

async function settle(): Promise<void> {
	for (let index = 0; index < 5; index++) {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}
}
