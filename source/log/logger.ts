import {pino, type DestinationStream, type Logger} from 'pino';
import type {LogLevel} from '../config/types.js';
import type {LogRing} from '../fleet/log-ring.js';
import {LogSink} from './log-sink.js';

export type {Logger} from 'pino';

export interface LoggerOptions {
	level: LogLevel;
	/** JSON lines for machines; otherwise one readable line per event. */
	json: boolean;
	/** Keeps the recent lines here too, readable, for /logs/tail?model=switchboard (backends' output has rings of its own). */
	recent?: LogRing;
	/** Where the lines go: stdout (1) unless the console owns the terminal, then a file's descriptor. */
	fd?: number;
}

const levelNames: Record<number, string> = {10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL'};
/** The message of log lines that carry a backend's output (`model`, `line`). */
export const backendOutput = 'backend output';

const hiddenKeys = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component']);

/**
 * Both planes log through this, each writing straight to its file descriptor (a worker thread's
 * process.stdout would hop through the main thread), in batches (see LogSink).
 */
export function createLogger(options: LoggerOptions): Logger {
	const {recent, fd = 1} = options;
	if (!recent) {
		return pino({level: options.level, base: undefined}, options.json ? new LogSink(fd) : new LogSink(fd, line => formatHuman(JSON.parse(line) as Record<string, unknown>)));
	}

	// Each line is read and made readable once, for the output and the ring alike.
	const sink = new LogSink(fd);
	const tee: DestinationStream & Pick<LogSink, 'flush'> = {
		write(line: string) {
			const entry = JSON.parse(line) as Record<string, unknown>;
			const human = formatHuman(entry);
			sink.write(options.json ? line : human);
			if (entry['msg'] !== backendOutput) {
				recent.push(human.trimEnd());
			}
		},
		flush(callback?: (error?: Error) => void) {
			sink.flush(callback);
		},
	};
	return pino({level: options.level, base: undefined}, tee);
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
