import type {IncomingHttpHeaders, OutgoingHttpHeaders} from 'node:http';

/** RFC 9110 §7.6.1 connection-specific headers, plus `host` (the pool sets its own). */
const hopByHop = new Set([
	'connection',
	'keep-alive',
	'proxy-authenticate',
	'proxy-authorization',
	'proxy-connection',
	'te',
	'trailer',
	'transfer-encoding',
	'upgrade',
	'host',
	// Node has already answered `100 Continue` to the client; undici refuses to send it on.
	'expect',
]);

/**
 * Copies headers minus hop-by-hop ones, including any the `Connection` header names.
 * `content-length` is kept: the body is forwarded unchanged.
 */
export function endToEndHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
	const named = headers.connection;
	const extra = named && named !== 'keep-alive' && named !== 'close'
		? new Set(named.toLowerCase().split(',').map(name => name.trim()))
		: undefined;
	const result: OutgoingHttpHeaders = {};
	for (const name in headers) {
		if (!hopByHop.has(name) && !extra?.has(name)) {
			result[name] = headers[name];
		}
	}

	return result;
}
