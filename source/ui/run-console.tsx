import {writeSync} from 'node:fs';
import {render} from 'ink';
import {systemClock, type Clock} from '../util/clock.js';
import {App} from './app.js';
import {findNvidiaSmi, GpuWatch, nvidiaSmiRunner} from './gpu/nvidia-smi.js';
import type {ConsoleLink} from './link/link.js';
import {ConsoleStore} from './state/console-store.js';
import {ColorContext, colorWanted} from './theme.js';

export interface ConsoleOptions {
	/** What quitting does: stop every model (switchboard's own console) or only detach. */
	quit: () => Promise<void>;
	/** The address given to `switchboard attach`, if attached. */
	attachedTo?: string | undefined;
	/** Show this machine's GPUs (nvidia-smi, when on PATH): the switchboard runs here. */
	localGpus: boolean;
	clock?: Clock;
	/** Ends the console at once, the terminal given back (a signal, a crash): switchboard goes on without it. */
	signal?: AbortSignal;
}

/** Into the alternate screen (the shell's screen comes back untouched on the way out), cursor home. */
const enterScreen = '\u001B[?1049h\u001B[H';
/** Back to the shell's screen, cursor shown. */
const leaveScreen = '\u001B[?25h\u001B[?1049l';

/**
 * Runs the console fullscreen until it quits. The terminal is given back as it was however the
 * process ends: on quit, on a signal, and on a crash (the exit handler writes synchronously).
 */
export async function runConsole(link: ConsoleLink, options: ConsoleOptions): Promise<void> {
	const clock = options.clock ?? systemClock;
	const nvidiaSmi = options.localGpus ? findNvidiaSmi(process.env) : undefined;
	const store = new ConsoleStore(link, {
		clock,
		watchGpus: nvidiaSmi === undefined ? undefined : onPoll => new GpuWatch(onPoll, {clock, run: nvidiaSmiRunner(nvidiaSmi, {clock})}),
	});
	let restored = false;
	const restore = () => {
		if (!restored) {
			restored = true;
			try {
				writeSync(1, leaveScreen);
			} catch {
				// The terminal is gone (a closed tmux pane): nothing to give back.
			}
		}
	};

	// A closed terminal (ssh dropped, tmux pane killed) fails Ink's writes with EIO: the terminal is
	// gone, not switchboard, which stops on the SIGHUP that comes with it.
	process.stdout.on('error', (error: NodeJS.ErrnoException) => {
		if (error.code !== 'EIO' && error.code !== 'EPIPE') {
			throw error;
		}
	});
	process.stdout.write(enterScreen);
	store.start();
	const instance = render(
		<ColorContext.Provider value={colorWanted(process.env) && process.stdout.hasColors?.() !== false}>
			<App store={store} clock={clock} attachedTo={options.attachedTo} quit={options.quit}/>
		</ColorContext.Provider>,
		{exitOnCtrlC: false, patchConsole: true, maxFps: 10},
	);
	// Ink draws a last frame as it unmounts, from an exit handler that would run after this one: it
	// is unmounted here first, so that frame goes to the alternate screen, which this then leaves.
	const end = () => {
		instance.unmount();
		restore();
	};

	process.once('exit', end);
	options.signal?.addEventListener('abort', end, {once: true});
	try {
		await instance.waitUntilExit();
	} finally {
		store.close();
		instance.cleanup();
		restore();
	}
}
