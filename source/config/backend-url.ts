import net from 'node:net';
import type {Reading} from './values.js';

export const backendExpected = 'a host, host:port or http(s) URL such as 10.0.0.11, 10.0.0.11:9001 or http://10.0.0.11:8101/v1';

interface BackendUrlOptions {
	/** Refuse `host` and `host:port`: only `http://…` and `https://…` (vllm-router's rule). */
	requireScheme?: boolean;
	/** The port of an entry that names none; by default that of its scheme (80, or 443 for https). */
	defaultPort?: number;
}

/**
 * A backend's base URL as `scheme://host:port`: no trailing slash and no `/v1`, since the
 * requests switchboard forwards keep their own /v1/... path. The port is always written out, and
 * host names are lower-cased, so the same server is always spelled the same way.
 *
 * Accepts `host`, `host:port`, `[IPv6]`, `[IPv6]:port` (taken as http unless `requireScheme`),
 * and http(s) URLs whose path is empty, `/`, `/v1` or `/v1/`. Refuses everything else rather than
 * guessing: other paths, user names, queries, IPv6 without brackets, and numbers that only the
 * WHATWG URL parser would call IPv4 addresses (`10.1` is 10.0.0.1 to it).
 */
export function readBackendUrl(text: string, options: BackendUrlOptions = {}): Reading<string> {
	const schemeMatch = /^([a-z][a-z\d+.-]*):\/\//i.exec(text);
	const scheme = schemeMatch ? schemeMatch[1]!.toLowerCase() : 'http';
	if (schemeMatch ? scheme !== 'http' && scheme !== 'https' : options.requireScheme) {
		return {expected: 'an http:// or https:// URL such as http://10.0.0.11:8101'};
	}

	const rest = schemeMatch ? text.slice(schemeMatch[0].length) : text;
	const authorityEnd = rest.search(/[/?#]/);
	const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd);
	const pathAndMore = authorityEnd === -1 ? '' : rest.slice(authorityEnd);
	if (/[?#]/.test(pathAndMore) || authority.includes('@')) {
		return {expected: 'a URL without a user name, query or fragment'};
	}

	if (!['', '/', '/v1', '/v1/'].includes(pathAndMore)) {
		return {expected: 'a URL whose path is empty or /v1', note: 'switchboard forwards the /v1/... path of each request itself'};
	}

	const hostAndPort = splitHostAndPort(authority);
	if ('expected' in hostAndPort) {
		return hostAndPort;
	}

	const host = readHost(hostAndPort.value.host);
	if ('expected' in host) {
		return host;
	}

	const portText = hostAndPort.value.port;
	let port = options.defaultPort ?? (scheme === 'https' ? 443 : 80);
	if (portText !== undefined) {
		port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
		if (port < 1 || port > 65_535) {
			return {expected: 'a port number from 1 to 65535 after the host'};
		}
	}

	return {value: `${scheme}://${host.value}:${port}`};
}

function splitHostAndPort(authority: string): Reading<{host: string; port: string | undefined}> {
	if (authority.startsWith('[')) {
		const match = /^(\[[^\]]*\])(?::(.*))?$/.exec(authority);
		return match ? {value: {host: match[1]!, port: match[2]}} : {expected: 'an IPv6 address in brackets, such as [fd00::1]:8101'};
	}

	const colons = authority.split(':').length - 1;
	if (colons > 1) {
		return {expected: 'an IPv6 address in brackets, such as [fd00::1]:8101'};
	}

	const [host, port] = authority.split(':') as [string, string | undefined];
	return {value: {host, port}};
}

const hostExpected = 'a host name or IP address such as gpu-1, gpu-1.lab.example or 10.0.0.11';

function readHost(host: string): Reading<string> {
	if (host.startsWith('[')) {
		const address = host.slice(1, -1);
		if (!net.isIPv6(address) || address.includes('%')) {
			return {expected: 'a valid IPv6 address in brackets, such as [fd00::1]:8101'};
		}

		// The URL parser writes IPv6 addresses in one canonical (compressed, lower-case) form.
		return {value: new URL(`http://${host}/`).hostname};
	}

	if (/^[\d.]+$/.test(host)) {
		return net.isIPv4(host) ? {value: host} : {expected: 'an IPv4 address of four numbers from 0 to 255, such as 10.0.0.11'};
	}

	const label = /^[a-z\d_](?:[a-z\d_-]*[a-z\d_])?$/i;
	return host.length <= 253 && host.split('.').every(part => part.length <= 63 && label.test(part))
		? {value: host.toLowerCase()}
		: {expected: hostExpected};
}
