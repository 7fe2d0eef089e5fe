import {accessSync, constants, mkdirSync} from 'node:fs';
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

export interface HeadlessRun {
	switchboard: Switchboard;
	logger: Logger;
}

/**
 * Runs switchboard without a UI until a signal arrives, then stops every backend before
 * exiting. A second signal, or a crash, leaves the rest to the reaper. Edits of the config
 * file it came from, if any, are applied live.
 */
export async function runHeadless(config: Config, origin?: ConfigOrigin): Promise<HeadlessRun> {
	ensureWritableDirectory(config.server.logDir, 'log directory', '--log-dir');
	ensureWritableDirectory(config.server.stateDir, 'state directory', '--state-dir');
	const preferences = stateFile(config.server.stateDir);
	// switchboard's own recent lines, for /logs/tail?model=switchboard.
	const ownLog = new LogRing();
	const logger = createLogger({level: config.server.logLevel, json: config.server.jsonLogs, recent: ownLog});
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
		switchboard = await startSwitchboard(config, logger, {launch, ownLog, preferences, recoverJobs});
	} catch (error) {
		reaper.dismiss();
		throw error;
	}

	const watch = origin && watchConfig(origin, config, switchboard, logger);
	let stopping = false;
	const shutdown = (signal: string) => {
		if (stopping) {
			logger.warn({signal}, 'second signal: exiting now; the reaper ends what is left');
			process.exit(130);
		}

		stopping = true;
		watch?.stop();
		logger.info({signal}, 'shutting down: stopping every backend');
		void switchboard.close(`switchboard received ${signal}`).then(() => {
			reaper.dismiss();
			logger.info('stopped');
			process.exit(0);
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
		process.exit(1);
	});

	return {switchboard, logger};
}

function ensureWritableDirectory(directory: string, what: string, flag: string): void {
	try {
		mkdirSync(directory, {recursive: true});
		accessSync(directory, constants.W_OK);
	} catch (error) {
		throw new ConfigError(`The ${what} ${directory} cannot be written: ${(error as Error).message}. Choose another with ${flag}.`);
	}
}
