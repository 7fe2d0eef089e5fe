import type {ConfigOrigin} from './config/from-cli.js';
import type {Config} from './config/types.js';
import {startRun, stopOnSignals, type Run} from './run.js';

/**
 * Runs switchboard without a UI until a signal arrives, then stops every backend before
 * exiting. A second signal, or a crash, leaves the rest to the reaper. Edits of the config
 * file it came from, if any, are applied live.
 */
export async function runHeadless(config: Config, origin?: ConfigOrigin): Promise<Run> {
	const run = await startRun(config, origin);
	stopOnSignals(run);
	return run;
}
