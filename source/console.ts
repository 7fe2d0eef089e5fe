import {writeSync} from 'node:fs';
import type {ConfigOrigin} from './config/from-cli.js';
import type {Config} from './config/types.js';
import {startRun, type Run} from './run.js';
import {localLink} from './ui/link/local.js';
import {loadConsole} from './ui/load-console.js';

/** The console, unless --no-ui or not on a terminal (a pipe, a service): then headless. */
export function consoleWanted(ui: boolean): boolean {
	return ui && process.stdout.isTTY && process.stdin.isTTY;
}

/**
 * switchboard with its console: the proxy and the fleet in this process, the terminal the
 * console's. Logs go to switchboard.log in the log directory (never over the screen). Quitting,
 * or a signal, stops every backend, gives the terminal back, and says where the log is.
 */
export async function runConsoleMode(config: Config, origin: ConfigOrigin | undefined, started?: (run: Run) => (() => void) | void): Promise<void> {
	// Before anything starts a backend: loading it changes the environment for a moment.
	const {runConsole} = await loadConsole();
	const run = await startRun(config, origin, {logToFile: true});
	const {logFile} = run;
	const beforeStop = started?.(run);
	let stopping: Promise<void> | undefined;
	const stop = async (reason: string) => {
		beforeStop?.();
		stopping ??= run.stop(reason).catch((error: unknown) => {
			run.logger.error({err: error}, 'shutdown failed; the reaper ends what is left');
		});
		return stopping;
	};

	const consoleEnd = new AbortController();
	const onSignal = (signal: NodeJS.Signals) => {
		if (consoleEnd.signal.aborted) {
			// A second signal: leave now; the reaper stops what is left.
			process.exit(130);
		}

		// The console is not there to ask: give the terminal back, stop everything, leave.
		consoleEnd.abort();
		void stop(`switchboard received ${signal}`).finally(() => {
			process.exit(signal === 'SIGINT' ? 130 : 0);
		});
	};

	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
		process.on(signal, onSignal);
	}

	process.on('uncaughtException', error => {
		run.logger.fatal({err: error}, 'switchboard crashed');
		consoleEnd.abort();
		// On the shell's screen, given back (unless the terminal is gone); the reaper stops the backends.
		try {
			writeSync(2, `switchboard crashed: ${error.stack ?? error.message}\nIts log: ${logFile}\n`);
		} catch {}

		process.exit(1);
	});

	await runConsole(localLink(run.switchboard), {
		quit: async () => stop('quit from the console'),
		localGpus: true,
		signal: consoleEnd.signal,
	});
	if (consoleEnd.signal.aborted) {
		// A signal or a crash ended it: that path stops everything and exits.
		return;
	}

	await stop('quit from the console');
	process.stdout.write(`switchboard stopped. Its log: ${logFile}\n`);
	process.exit(0);
}
