import type {FleetEvent} from '../../fleet/events.js';

/** An admin reply as the console reads it: the HTTP status and the body's text. */
export interface LinkReply {
	status: number;
	body: string;
}

export type LinkMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * How the console reaches a switchboard: in the same process (./local.ts) or over HTTP
 * (./remote.ts, `switchboard attach`). Either way it reads and commands through the admin API's
 * paths and replies, so a key does exactly what the matching admin call does.
 */
export interface ConsoleLink {
	/** True when attached to another process: quitting the console then stops nothing. */
	readonly remote: boolean;
	/** An admin call, e.g. request('POST', '/models/chat/stop'); a path may carry a query. */
	request(method: LinkMethod, path: string, body?: unknown): Promise<LinkReply>;
	/**
	 * Fleet events as they happen. `trouble` hears why the stream is down (undefined once it is
	 * back); a local link never calls it. Returns what stops listening.
	 */
	subscribe(listener: (event: FleetEvent) => void, trouble?: (message: string | undefined) => void): () => void;
	close(): void;
}

/** The message of OpenAI's error envelope `{"error": {"message"}}`, if `body` is one. */
export function envelopeMessage(body: string): string | undefined {
	try {
		const {error} = JSON.parse(body) as {error?: {message?: unknown}};
		return typeof error?.message === 'string' ? error.message : undefined;
	} catch {
		return undefined;
	}
}
