export type LogLevelName = 'error' | 'warn' | 'info' | 'debug';

/** One line of the log pane. */
export interface LogEntry {
	/** Order of arrival. */
	id: number;
	/** The backend's model; undefined for switchboard's own lines. */
	model: string | undefined;
	/** As it is shown: `HH:MM:SS` (UTC, as switchboard's own log), then the line. */
	text: string;
	level: LogLevelName;
}

const ownLevel: Record<string, LogLevelName> = {ERROR: 'error', FATAL: 'error', WARN: 'warn', DEBUG: 'debug', TRACE: 'debug'};
const ownLine = /^(\d\d:\d\d:\d\d)\.\d{3} (\w+) *(.*)$/;

/** A line of switchboard's own log (`12:01:02.345 WARN  [fleet] …`), its milliseconds dropped. */
export function ownEntry(id: number, line: string): LogEntry {
	const match = ownLine.exec(line);
	if (!match) {
		return {id, model: undefined, text: line, level: 'info'};
	}

	const [, time, level, rest] = match as unknown as [string, string, string, string];
	return {id, model: undefined, text: `${time} ${level === 'INFO' ? '' : `${level} `}${rest}`, level: ownLevel[level] ?? 'info'};
}

/** A line a backend printed (vLLM's own `INFO 05-12 …`, a traceback…), stamped with when it arrived. */
export function backendEntry(id: number, model: string, line: string, at: number): LogEntry {
	return {id, model, text: `${new Date(at).toISOString().slice(11, 19)} [${model}] ${line}`, level: backendLevel(line)};
}

function backendLevel(line: string): LogLevelName {
	if (/\b(?:ERROR|CRITICAL|FATAL|Traceback)\b|^\w*Error:/.test(line)) {
		return 'error';
	}

	if (/\bWARN(?:ING)?\b/.test(line)) {
		return 'warn';
	}

	return /\bDEBUG\b/.test(line) ? 'debug' : 'info';
}

/** The last `capacity` entries, oldest first; appends are O(1) amortised and reads copy nothing until asked. */
export class LogBuffer {
	#entries: LogEntry[] = [];

	constructor(private readonly capacity = 2000) {}

	push(entry: LogEntry): void {
		this.#entries.push(entry);
		// Trimmed in batches, so that a flood costs one copy per `capacity / 2` lines, not one per line.
		if (this.#entries.length > this.capacity * 1.5) {
			this.#entries = this.#entries.slice(-this.capacity);
		}
	}

	get entries(): readonly LogEntry[] {
		return this.#entries;
	}
}
