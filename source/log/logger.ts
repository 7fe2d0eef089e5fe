import {pino, type Logger, type DestinationStream} from 'pino';
import type {LogLevel} from '../config/types.js';

export type {Logger} from 'pino';

export interface LoggerOptions {
	level: LogLevel;
	/** JSON lines for machines; otherwise one readable line per event. */
	json: boolean;
}

const levelNames: Record<number, string> = {10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL'};
/** The message of log lines that carry a backend's output (`model`, `line`). */
export const backendOutput = 'backend output';

const hiddenKeys = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);

/** Lines wait at most this long in the buffer, so a quiet log still shows up promptly. */
const flushIntervalMs = 200;

/**
 * Both planes log through this, each writing straight to fd 1 (a worker thread's
 * process.stdout would hop through the main thread). Lines are buffered and written in
 * batches: one write per request line would be a system call on the proxy's hot path.
 */
export function createLogger(options: LoggerOptions): Logger {
	// Bounded: when nobody reads our stdout (a paused pager, a stuck pane), lines are dropped
	// rather than memory growing or the proxy blocking.
	const destination = pino.destination({dest: 1, sync: false, minLength: 4096, maxLength: 16 * 1024 * 1024});
	setInterval(() => {
		destination.flush();
	}, flushIntervalMs).unref();
	process.once('exit', () => {
		destination.flushSync();
	});
	const stream: DestinationStream = options.json ? destination : humanStream(destination);
	return pino({level: options.level, base: undefined}, stream);
}

function humanStream(out: DestinationStream): DestinationStream {
	return {
		write(line: string) {
			out.write(formatHuman(JSON.parse(line) as Record<string, unknown>));
		},
	};
}

function formatHuman(entry: Record<string, unknown>): string {
	const time = new Date(entry['time'] as number).toISOString().slice(11, 23);
	const level = levelNames[entry['level'] as number] ?? 'INFO ';
	if (entry['msg'] === backendOutput) {
		// A backend's own line, shown as it printed it.
		return `${time} ${level} [${String(entry['model'])}] ${String(entry['line'])}\n`;
	}

	const component = typeof entry['component'] === 'string' ? `[${entry['component']}] ` : '';
	const fields = Object.entries(entry)
		.filter(([key]) => !hiddenKeys.has(key))
		.map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
		.join(' ');
	return `${time} ${level} ${component}${String(entry['msg'] ?? '')}${fields ? ' ' + fields : ''}\n`;
}
