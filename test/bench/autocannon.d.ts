/** The slice of autocannon 9's programmatic API the bench uses (the package ships no types). */
declare module 'autocannon' {
	import type {EventEmitter} from 'node:events';

	interface Options {
		/** Several: connection i goes to url i mod n. */
		url: string | string[];
		method?: string;
		headers?: Record<string, string>;
		body?: string;
		connections?: number;
		/** Seconds. */
		duration?: number;
		/** Seconds without a response before a request counts as an error. */
		timeout?: number;
	}

	interface Result {
		/** Seconds the run lasted. */
		duration: number;
		errors: number;
		timeouts: number;
		non2xx: number;
	}

	/** An event emitter that is also the promise of the result. */
	interface Instance extends EventEmitter, PromiseLike<Result> {
		/** `responseTime` is in milliseconds with sub-millisecond precision, unlike the result's latency histogram. */
		on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): this;
	}

	export default function autocannon(options: Options): Instance;
}
