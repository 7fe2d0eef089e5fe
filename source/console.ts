import {writeSync} from 'node:fs';
import type {ConfigOrigin} from './config/from-cli.js';
import type {Config} from './config/types.js';
import {startRun, stopOnSignals, type Run} from './run.js';
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
export async function runConsoleMode(config: Config, origin: ConfigOrigin | undefined, started?: (run: Run) => void): Promise<void> {
	// Before anything starts a backend: loading it changes the environment for a moment.
	const {runConsole} = await loadConsole();
	const run = await startRun(config, origin, {logToFile: true});
	const {logFile} = run;
	started?.(run);
	const consoleEnd = new AbortController();
	// The console is not there to ask: the terminal is given back first, then everything stops.
	stopOnSignals(run, {
		first() {
			consoleEnd.abort();
		},
		exitCode: signal => signal === 'SIGINT' ? 130 : 0,
		crashed(error) {
			// On the shell's screen, given back (unless the terminal is gone); the reaper stops the backends.
			try {
				writeSync(2, `switchboard crashed: ${error.stack ?? error.message}\nIts log: ${logFile}\n`);
			} catch {}
		},
	});
	const quit = async () => {
		await run.stop('quit from the console').catch((error: unknown) => {
			run.logger.error({err: error}, 'shutdown failed; the reaper ends what is left');
		});
	};

	await runConsole(localLink(run.switchboard), {quit, localGpus: true, signal: consoleEnd.signal});
	if (consoleEnd.signal.aborted) {
		// A signal or a crash ended it: that path stops everything and exits.
		return;
	}

	await quit();
	process.stdout.write(`switchboard stopped. Its log: ${logFile}\n`);
	process.exit(0);
}
