import {statSync, type Stats} from 'node:fs';
import {stat} from 'node:fs/promises';

export interface FileWatch {
	/** Polls at a new interval from now on. */
	setInterval(intervalMs: number): void;
	stop(): void;
}

/**
 * Calls `onChange` when a file is edited, created, renamed over or removed (then with undefined).
 * Polls its stat rather than watching its inode: editors save by writing a new file and renaming
 * it over the old one, which inode watchers lose track of. Each look is compared with the file as
 * last seen, starting from how it is when the watch begins: fs.watchFile compares with its own
 * first look, taken a moment later, and so misses an edit made in between. The poll never keeps
 * the process alive.
 */
export function watchFileChanges(file: string, intervalMs: number, onChange: (stats: Stats | undefined) => void): FileWatch {
	let seen = statSync(file, {throwIfNoEntry: false});
	let looking = false;
	let stopped = false;
	const look = async () => {
		const current = await stat(file).catch(() => undefined);
		if (stopped) {
			return;
		}

		const same = current === undefined ? seen === undefined
			: seen !== undefined && current.mtimeMs === seen.mtimeMs && current.size === seen.size && current.ino === seen.ino;
		if (!same) {
			seen = current;
			onChange(current);
		}
	};

	const start = (interval: number) => {
		const timer = setInterval(() => {
			if (!looking) {
				looking = true;
				void look().finally(() => {
					looking = false;
				});
			}
		}, interval);
		timer.unref();
		return timer;
	};

	let timer = start(intervalMs);
	return {
		setInterval(interval) {
			clearInterval(timer);
			timer = start(interval);
		},
		stop() {
			stopped = true;
			clearInterval(timer);
		},
	};
}
