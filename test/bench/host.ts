/**
 * switchboard wired like `switchboard --no-ui` (JSON logs at INFO on fd 1, which the bench points
 * at a file so log I/O is real; the local launcher; a backend `switchboard sim <argv[3…]>` started
 * by the first request), for what the binary cannot do: BENCH_BUSY=main keeps the main thread
 * busy as a UI's frames would (BENCH_BUSY=elsewhere does the same in another process, a control). The bench compares it with itself idle, since running under tsx
 * costs this process memory (~30 MB) and a thread that the binary does not have.
 *
 * Usage (by proxy.ts, with an IPC channel): host.ts <backend log dir> <sim flags…>
 * Sends {url} over IPC once listening; stops its backend and exits on SIGTERM, SIGINT or when
 * the bench goes away.
 */
import {spawn} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {configFromFlags, runFlagDefaults, type RunFlags} from '../../dist/config/flags.js';
import {LogRing} from '../../dist/fleet/log-ring.js';
import {localLauncher} from '../../dist/launchers/local.js';
import {Reaper} from '../../dist/launchers/reaper.js';
import {createLogger} from '../../dist/log/logger.js';
import {startSwitchboard} from '../../dist/switchboard.js';

export interface HostReady {
	url: string;
}

const cliPath = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const [logDir, ...simFlags] = process.argv.slice(2);
if (logDir === undefined || !process.send) {
	throw new Error('host.ts is started by proxy.ts: host.ts <backend log dir> <sim flags…>, with an IPC channel');
}

/** The defaults of the binary, plus the flags proxy.ts gives it. */
const flags: RunFlags = {
	...runFlagDefaults,
	port: '0',
	idleTimeout: '0',
	logFormat: 'json',
	logDir,
	ui: false,
	maxQueue: '2000',
};
const config = configFromFlags(flags, [process.execPath, cliPath, 'sim', ...simFlags]);
const ownLog = new LogRing();
const logger = createLogger({level: config.server.logLevel, json: true, recent: ownLog});
const reaper = new Reaper(Math.max(...config.models.map(model => model.stopGraceMs)), reason => {
	logger.warn({reason}, 'reaper lost');
});
const switchboard = await startSwitchboard(config, logger, {launch: localLauncher(reaper, {keep: config.server.logKeep, maxBytes: config.server.logMaxBytes}), ownLog});

// The same 8 ms every 100 ms, on switchboard's main thread or, as a control, in another
// process: on a small machine any busy core slows everyone, and the control shows how much.
const busy = process.env['BENCH_BUSY'];
if (busy === 'main') {
	setInterval(renderFrame, 100);
} else if (busy === 'elsewhere') {
	const spinner = spawn(process.execPath, ['-e', `
		process.stdin.on('end', () => process.exit(0)).resume();
		setInterval(() => { const end = performance.now() + 8; while (performance.now() < end); }, 100);
	`], {stdio: ['pipe', 'ignore', 'inherit']});
	process.once('exit', () => spinner.kill());
}

let stopping = false;
for (const event of ['SIGTERM', 'SIGINT', 'disconnect'] as const) {
	process.on(event, () => {
		void stop(event);
	});
}

process.send({url: switchboard.url} satisfies HostReady);

/** What a terminal UI does ten times a second: 8 ms of synchronous work on the main thread. */
function renderFrame(): void {
	const end = performance.now() + 8;
	while (performance.now() < end) {
		// Busy on purpose.
	}
}

async function stop(reason: string): Promise<void> {
	if (stopping) {
		return;
	}

	stopping = true;
	try {
		await switchboard.close(`bench host: ${reason}`);
		reaper.dismiss();
		process.exit(0);
	} catch (error) {
		// The reaper ends the backend once we are gone.
		logger.error({err: error}, 'bench host: stopping failed');
		process.exit(1);
	}
}
