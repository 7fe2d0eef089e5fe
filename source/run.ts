import {accessSync, constants, mkdirSync, openSync} from 'node:fs';
import path from 'node:path';
import {ConfigError} from './config/errors.js';
import type {ConfigOrigin} from './config/from-cli.js';
import type {Config} from './config/types.js';
import {LogRing} from './fleet/log-ring.js';
import {stateFile} from './fleet/state-file.js';
import {launchers} from './launchers/launch.js';
import {jobLedgerFile} from './launchers/slurm/job-ledger.js';
import {Reaper} from './launchers/reaper.js';
import {createLogger, type Logger} from './log/logger.js';
import {watchConfig} from './reload.js';
import {startSwitchboard, type Switchboard} from './switchboard.js';

export interface Run {
	switchboard: Switchboard;
	logger: Logger;
	/** Where the log goes, when not to stdout. */
	logFile: string | undefined;
	/** Runs `hook` first when the run stops (the demo ends its load, so that no new request races the shutdown). */
	onStop(hook: () => void): void;
	/** Stops serving and every backend, then lets the reaper go; once, however often it is called. */
	stop(reason: string): Promise<void>;
}

/** How a run leaves on a signal or a crash, besides stopping. */
export interface Leaving {
	/** Runs first, at once (the console gives the terminal back). */
	first?: () => void;
	/** The exit code once everything stopped after `signal` (default 0). */
	exitCode?: (signal: NodeJS.Signals) => number;
	/** Says what crashed where the user sees it, once `first` has run. */
	crashed?: (error: Error) => void;
}

/**
 * Stops the run on SIGINT, SIGTERM or SIGHUP, then exits. A second signal exits at once, and so
 * does a crash: the reaper ends what is left.
 */
export function stopOnSignals(run: Run, {first, exitCode = () => 0, crashed}: Leaving = {}): void {
	const {logger} = run;
	let stopping = false;
	const shutdown = (signal: NodeJS.Signals) => {
		if (stopping) {
			logger.warn({signal}, 'second signal: exiting now; the reaper ends what is left');
			process.exit(130);
		}

		stopping = true;
		first?.();
		logger.info({signal}, 'shutting down: stopping every backend');
		void run.stop(`switchboard received ${signal}`).then(() => {
			logger.info('stopped');
			process.exit(exitCode(signal));
		}, (error: unknown) => {
			logger.error({err: error}, 'shutdown failed; the reaper ends what is left');
			process.exit(1);
		});
	};

	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
		process.on(signal, shutdown);
	}

	process.on('uncaughtException', error => {
		// The reaper sees our end and stops the backends.
		logger.fatal({err: error}, 'switchboard crashed');
		first?.();
		crashed?.(error);
		process.exit(1);
	});
}

export interface RunOptions {
	/** Log to switchboard.log in the log directory instead of stdout (the console owns the terminal). */
	logToFile?: boolean;
}

/**
 * Starts switchboard for this process: its directories, log, reaper (which stops the backends if
 * switchboard dies) and launchers, and, when it came from a config file, the live reload of it.
 */
export async function startRun(config: Config, origin: ConfigOrigin | undefined, options: RunOptions = {}): Promise<Run> {
	ensureWritableDirectory(config.server.logDir, 'log directory', '--log-dir');
	ensureWritableDirectory(config.server.stateDir, 'state directory', '--state-dir');
	const preferences = stateFile(config.server.stateDir);
	// switchboard's own recent lines, for /logs/tail?model=switchboard and the console.
	const ownLog = new LogRing();
	const logFile = options.logToFile ? path.join(config.server.logDir, 'switchboard.log') : undefined;
	const logger = createLogger({level: config.server.logLevel, json: config.server.jsonLogs, recent: ownLog, fd: logFile === undefined ? 1 : openSync(logFile, 'a')});
	const reaper = new Reaper(Math.max(...config.models.map(model => model.stopGraceMs)), reason => {
		logger.warn({reason}, 'the watchdog that stops backends if switchboard dies has ended; stop switchboard with Ctrl-C or SIGTERM so it can stop them itself');
	}, jobLedgerFile(config.server.stateDir));
	const {launch, recoverJobs} = launchers({
		reaper,
		logs: {keep: config.server.logKeep, maxBytes: config.server.logMaxBytes},
		stateDir: config.server.stateDir,
		slurmPollMs: config.server.slurmPollMs,
		log(level, message) {
			logger.child({component: 'slurm'})[level](message);
		},
	});
	let switchboard: Switchboard;
	try {
		switchboard = await startSwitchboard(config, logger, {launch, ownLog, preferences, recoverJobs, logFile});
	} catch (error) {
		reaper.dismiss();
		throw error;
	}

	const watch = origin && watchConfig(origin, config, switchboard, logger);
	const hooks: Array<() => void> = [];
	let stopped: Promise<void> | undefined;
	return {
		switchboard,
		logger,
		logFile,
		onStop(hook) {
			hooks.push(hook);
		},
		async stop(reason) {
			stopped ??= (async () => {
				for (const hook of hooks) {
					hook();
				}

				watch?.stop();
				await switchboard.close(reason);
				reaper.dismiss();
			})();
			return stopped;
		},
	};
}

function ensureWritableDirectory(directory: string, what: string, flag: string): void {
	try {
		mkdirSync(directory, {recursive: true});
		accessSync(directory, constants.W_OK);
	} catch (error) {
		throw new ConfigError(`The ${what} ${directory} cannot be written: ${(error as Error).message}. Choose another with ${flag}.`);
	}
}
