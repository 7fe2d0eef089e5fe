import {parseSimArgs, SIM_USAGE, SimUsageError, type ParsedSimArgs} from './args.js';
import {systemClock} from './clock.js';
import {SimLogger} from './log.js';
import type {SimLogSink} from './options.js';
import {SimStartupError, startSim, type SimServer} from './server.js';
import {logShutdown} from './startup-log.js';

/**
 * `switchboard sim [MODEL] [flags]`: runs the simulator in this process, logging
 * to stdout like vLLM. Owns the process: exits 2 on a bad command line, 1 when
 * the engine fails (startup failure, bind error, --exit-after) and 0 after
 * SIGTERM/SIGINT. The returned promise settles once the server is listening
 * (or right away for --help); the open server keeps the process alive.
 */
export async function runSim(argv: string[]): Promise<void> {
	const parsed = parseOrExit(argv);
	if (parsed.help) {
		process.stdout.write(SIM_USAGE);
		return;
	}
	const sink: SimLogSink = (line) => {
		process.stdout.write(`${line}\n`);
	};
	let server: SimServer | null = null;
	let stopping = false;
	const stop = () => {
		if (stopping) return;
		stopping = true;
		void (server?.close() ?? Promise.resolve()).then(() => {
			logShutdown(new SimLogger(sink, systemClock));
			process.exit(0);
		});
	};
	process.once('SIGTERM', stop);
	process.once('SIGINT', stop);

	try {
		server = await startSim({ ...parsed.options, log: sink, onEngineCrash: () => process.exit(1) });
	} catch (error) {
		if (!(error instanceof SimStartupError)) throw error;
		process.stderr.write(`${error.pythonException}\n`);
		process.exit(1);
	}
}

function parseOrExit(argv: string[]): ParsedSimArgs {
	try {
		return parseSimArgs(argv, process.env);
	} catch (error) {
		if (!(error instanceof SimUsageError)) throw error;
		process.stderr.write(`switchboard sim: error: ${error.message}\n`);
		process.exit(2);
	}
}
