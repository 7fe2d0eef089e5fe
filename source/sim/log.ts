import type {SimClock} from './clock.js';
import type {SimLogSink} from './options.js';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** vLLM prefixes every line with the process that wrote it; the engine core is a separate process there. */
export type LogProcess = 'APIServer' | 'EngineCore_DP0';

/**
 * Writes lines in the two formats a vLLM server prints: vLLM's own
 * (`(APIServer pid=N) INFO 03-14 10:02:11 [api_server.py:612] ...`) and
 * uvicorn's (`(APIServer pid=N) INFO:     ...`). Tools that watch vLLM's output
 * (readiness on "Application startup complete.") work unchanged on ours.
 */
export class SimLogger {
	readonly enabled: boolean;

	constructor(
		private readonly sink: SimLogSink | null,
		private readonly clock: SimClock,
		private readonly pid: number = process.pid,
	) {
		this.enabled = sink !== null;
	}

	vllm(level: LogLevel, source: string, message: string, from: LogProcess = 'APIServer'): void {
		if (this.sink === null) return;
		this.sink(`(${from} pid=${this.pid}) ${level} ${this.timestamp()} [${source}] ${message}`);
	}

	info(source: string, message: string, from: LogProcess = 'APIServer'): void {
		this.vllm('INFO', source, message, from);
	}

	error(source: string, message: string, from: LogProcess = 'APIServer'): void {
		this.vllm('ERROR', source, message, from);
	}

	uvicorn(message: string, level: LogLevel = 'INFO'): void {
		if (this.sink === null) return;
		// uvicorn pads "LEVEL:" to nine characters, then adds one space.
		this.sink(`(APIServer pid=${this.pid}) ${`${level}:`.padEnd(9)} ${message}`);
	}

	private timestamp(): string {
		const now = new Date(this.clock.wallMs());
		const two = (n: number) => String(n).padStart(2, '0');
		return `${two(now.getMonth() + 1)}-${two(now.getDate())} ${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}`;
	}
}
