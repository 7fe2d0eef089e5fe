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
	/** Stops serving and every backend, then lets the reaper go; switchboard may exit afterwards. */
	stop(reason: string): Promise<void>;
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
	return {
		switchboard,
		logger,
		logFile,
		async stop(reason) {
			watch?.stop();
			await switchboard.close(reason);
			reaper.dismiss();
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
