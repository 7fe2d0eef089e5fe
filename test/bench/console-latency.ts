/**
 * What the console costs the proxy: the binary in front of an instant backend with its console on
 * a real terminal (a tmux session of its own) and the same with --no-ui, against the backend
 * reached directly. Under load each request adds a line to the backend's access log, so the
 * console's log pane scrolls and its figures move: it redraws as often as it may (~10 a second)
 * through every measurement, which counts its frames from what it writes to the terminal.
 */
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {runLoad} from './load.js';
import {firstAnswer, measureLoad, progress, serviceTarget, type Timing} from './measure.js';
import type {Processes, Service} from './processes.js';
import type {ConsoleLatencyMeasurements} from './report.js';
import {summarize} from './stats.js';

const terminal = {columns: 160, rows: 45};
/** Latency runs per side, alternating the order, so that drift during the run falls on all three alike. */
const rounds = 2;
const connections = 64;
/** Ink opens every frame it writes with this (synchronized output, "begin"). */
const frameStart = '\u001B[?2026h';

type Side = 'direct' | 'noUi' | 'ui';

export async function measureConsoleLatency(processes: Processes, workDir: string, simFlags: readonly string[], timing: Timing): Promise<ConsoleLatencyMeasurements> {
	progress(`starting a direct backend, switchboard --no-ui and switchboard with its console in tmux (${terminal.columns}×${terminal.rows}), each in front of a backend of its own`);
	const [direct, noUi, ui] = await Promise.all([
		processes.sim('console-direct-sim', simFlags),
		processes.switchboard('console-no-ui', simFlags),
		processes.switchboardOnTerminal('console-ui', simFlags, terminal),
	]);
	const services: Record<Side, Service> = {direct, noUi, ui};
	// Through switchboard the first request starts the backend.
	await Promise.all([direct, noUi, ui].map(async service => firstAnswer(service, 16)));
	for (const service of [direct, noUi, ui]) {
		await runLoad(service.url, 1, timing.warmupSeconds);
	}

	const recording = path.join(workDir, 'console-terminal.out');
	await ui.record(recording);
	const screenBefore = await ui.screen();
	const samples: Record<Side, number[]> = {direct: [], noUi: [], ui: []};
	let frames = 0;
	let framedMs = 0;
	const order: Side[] = ['direct', 'noUi', 'ui'];
	for (let round = 0; round < rounds; round++) {
		for (const side of round % 2 === 0 ? order : order.toReversed()) {
			const framesBefore = framesWritten(recording);
			const startedAt = performance.now();
			const result = await runLoad(services[side].url, 1, timing.seconds / rounds);
			if (side === 'ui') {
				frames += framesWritten(recording) - framesBefore;
				framedMs += performance.now() - startedAt;
			}

			progress(`${services[side].name}, 1 connection: mean ${result.latency.mean.toFixed(3)} ms, p99 ${result.latency.p99.toFixed(3)} ms`);
			samples[side].push(...result.samples);
		}
	}

	expectRedrawn(screenBefore, await ui.screen());
	const throughput = {
		direct: await measureLoad(serviceTarget(direct), connections, timing),
		noUi: await measureLoad(serviceTarget(noUi), connections, timing),
		ui: await measureLoad(serviceTarget(ui), connections, timing),
	};
	await Promise.all([ui, noUi, direct].map(async service => service.stop()));
	const result: ConsoleLatencyMeasurements = {
		terminal,
		connections,
		latency: {direct: summarize(samples.direct), noUi: summarize(samples.noUi), ui: summarize(samples.ui)},
		throughput: {direct: throughput.direct.result.requestsPerSecond, noUi: throughput.noUi.result.requestsPerSecond, ui: throughput.ui.result.requestsPerSecond},
		cpuMsPerRequest: {noUi: throughput.noUi.cpuMsPerRequest, ui: throughput.ui.cpuMsPerRequest},
		framesPerSecond: frames / (framedMs / 1000),
	};
	progress(`the console drew ${result.framesPerSecond.toFixed(1)} frames/s under load`);
	return result;
}

/** Frames the console has written to its terminal so far. */
function framesWritten(recording: string): number {
	let text: string;
	try {
		text = readFileSync(recording, 'latin1');
	} catch {
		return 0;
	}

	return text.split(frameStart).length - 1;
}

/** The console was drawing through the load: its screen moved, and the log pane shows the requests. */
function expectRedrawn(before: string, after: string): void {
	if (after === before || !after.includes('POST /v1/chat/completions') || !after.includes('logs · following')) {
		throw new Error(`the console's screen did not follow the load; it shows:\n${after}`);
	}
}
