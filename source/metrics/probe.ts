import {request} from 'undici';
import type {Probe} from './monitor.js';

/** A GET through undici's shared keep-alive pool, so checking many backends every few seconds reuses connections. */
export const httpProbe: Probe = async (url, timeoutMs) => {
	const {statusCode, body} = await request(url, {signal: AbortSignal.timeout(timeoutMs)});
	return {status: statusCode, body: await body.text()};
};
