import type {ConfigOrigin} from './config/from-cli.js';
import type {Config} from './config/types.js';
import {startRun, type Run} from './run.js';

/**
 * Runs switchboard without a UI until a signal arrives, then stops every backend before
 * exiting. A second signal, or a crash, leaves the rest to the reaper. Edits of the config
 * file it came from, if any, are applied live.
 */
export async function runHeadless(config: Config, origin?: ConfigOrigin): Promise<Run> {
	const run = await startRun(config, origin);
	const {logger} = run;
	let stopping = false;
	const shutdown = (signal: string) => {
		if (stopping) {
			logger.warn({signal}, 'second signal: exiting now; the reaper ends what is left');
			process.exit(130);
		}

		stopping = true;
		logger.info({signal}, 'shutting down: stopping every backend');
		void run.stop(`switchboard received ${signal}`).then(() => {
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

	return run;
}
