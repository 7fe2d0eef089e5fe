import {fstatSync, mkdirSync, openSync, readdirSync, rmSync, statSync} from 'node:fs';
import path from 'node:path';

/** How much of the backends' logs is kept on disk ([server] log_keep and log_max_size). */
export interface LogLimits {
	/** Files kept per model, the newest (0 = every file). */
	keep: number;
	/** A running backend's file is rotated past this many bytes (see LogFollower). */
	maxBytes: number;
}

/** Where the file copied aside by a rotation goes. */
export function rotatedPath(file: string): string {
	return `${file}.1`;
}

/** The part of a log file's name after `<model>-`: its start time and port. */
const startPattern = String.raw`\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d+\.log`;

/**
 * The log file of one backend start: `<dir>/<model>-<start time>-<port>.log`. The one place that
 * knows the name, so that pruneLogs finds every file of a model and no file of another.
 */
export function backendLogPath(directory: string, model: string, startedAt: number, port: number): string {
	const time = new Date(startedAt).toISOString().replaceAll(':', '-').slice(0, 19);
	return path.join(directory, `${safeFileName(model)}-${time}-${port}.log`);
}

/**
 * Opens a start's log file for appending (its folder made if need be), once the model's oldest
 * files beyond `limits.keep` are deleted; it is in use from now on. Returns its descriptor and
 * where this start's lines begin.
 */
export function openBackendLog(file: string, limits: LogLimits, inUse: Set<string>, onProblem: (message: string) => void): {fd: number; start: number} {
	mkdirSync(path.dirname(file), {recursive: true});
	const fd = openSync(file, 'a');
	const start = fstatSync(fd).size;
	for (const problem of pruneLogs(file, limits.keep, inUse)) {
		onProblem(problem);
	}

	inUse.add(file);
	return {fd, start};
}

/**
 * Deletes the oldest log files of the model `file` belongs to (with their rotated copies) so that
 * `keep` remain, `file` among them. A file in `inUse` is never deleted: its backend still writes
 * to it, and /logs/current reads it. Returns what could not be deleted, in words.
 */
export function pruneLogs(file: string, keep: number, inUse: ReadonlySet<string>): string[] {
	if (keep === 0) {
		return [];
	}

	const directory = path.dirname(file);
	const model = new RegExp(`^(.*)-${startPattern}$`).exec(path.basename(file))?.[1];
	if (model === undefined) {
		return [];
	}

	let names: string[];
	try {
		names = readdirSync(directory);
	} catch (error) {
		return [`could not list the old logs in ${directory}: ${(error as Error).message}`];
	}

	const ours = new RegExp(`^${escapeRegExp(model)}-${startPattern}(?:\\.1)?$`);
	const starts = new Map<string, number>();
	for (const name of names) {
		if (!ours.test(name)) {
			continue;
		}

		const start = path.join(directory, name.replace(/\.1$/, ''));
		const modified = mtimeOf(path.join(directory, name));
		starts.set(start, Math.max(starts.get(start) ?? 0, modified));
	}

	// Newest first; the file just created counts as the newest whatever the clock says.
	const ordered = [...starts].sort(([a, aTime], [b, bTime]) => Number(b === file) - Number(a === file) || bTime - aTime || b.localeCompare(a));
	const problems: string[] = [];
	for (const [start] of ordered.slice(keep)) {
		if (inUse.has(start)) {
			continue;
		}

		for (const name of [start, rotatedPath(start)]) {
			try {
				rmSync(name, {force: true});
			} catch (error) {
				problems.push(`could not delete the old log ${name}: ${(error as Error).message}`);
			}
		}
	}

	return problems;
}

function mtimeOf(file: string): number {
	try {
		return statSync(file).mtimeMs;
	} catch {
		// Deleted meanwhile: the oldest, as far as keeping goes.
		return 0;
	}
}

function safeFileName(name: string): string {
	return name.replaceAll(/[^\w.-]+/g, '_');
}

function escapeRegExp(text: string): string {
	return text.replaceAll(/[.*+?^${}()|[\]\\]/g, String.raw`\$&`);
}
