import {parseArgs} from 'node:util';
import type {StatusReply} from './admin/status.js';
import {ConfigError} from './config/errors.js';
import type {ConsoleLink} from './ui/link/link.js';
import {errorMessage, LinkError, remoteLink} from './ui/link/remote.js';

export const attachHelp = `
  Usage
    $ switchboard attach URL [--admin-key K]

  The console of a switchboard running elsewhere (started with --no-ui, as a service, on another
  machine), over its admin API. Quitting the console stops nothing there.

  Options
    --admin-key K   the key to send (or SWITCHBOARD_ADMIN_KEY). When switchboard has keys, any
                    valid one reads; starting, stopping and the other commands need its admin key

  Examples
    $ switchboard attach http://127.0.0.1:8080
    $ switchboard attach gpu-node:8080 --admin-key "$KEY"
`;

export interface Attached {
	link: ConsoleLink;
	/** GET /status as it answered when attaching. */
	status: StatusReply;
	/** The switchboard's address, as given. */
	url: URL;
}

interface AttachArgs {
	url: string;
	adminKey: string | undefined;
	/** Where the key came from, for the message when it is refused. */
	keySource: string;
}

/** `switchboard attach …`: the help, or the console (`run`) attached to the switchboard named, detached after. */
export async function runAttach(argv: string[], env: NodeJS.ProcessEnv, run: (link: ConsoleLink, status: StatusReply, url: URL) => Promise<void>): Promise<void> {
	if (argv.includes('--help')) {
		process.stdout.write(attachHelp);
		return;
	}

	const {link, status, url} = await openAttach(argv, env);
	try {
		await run(link, status, url);
	} finally {
		link.close();
	}
}

/** Reads `attach URL [--admin-key K]` and checks with one GET /status that a switchboard answers there and takes the key. */
export async function openAttach(argv: string[], env: NodeJS.ProcessEnv): Promise<Attached> {
	const {url, adminKey, keySource} = readAttachArgs(argv, env);
	const link = remoteLink({url, adminKey});
	try {
		return {link, url: new URL(url), status: await readStatus(link, url, adminKey === undefined ? undefined : keySource)};
	} catch (error) {
		link.close();
		throw error;
	}
}

function readAttachArgs(argv: string[], env: NodeJS.ProcessEnv): AttachArgs {
	// Not strict: unknown flags are reported below, in switchboard's own words.
	const {values, positionals} = parseArgs({args: argv, options: {'admin-key': {type: 'string'}}, allowPositionals: true, strict: false});
	const unknown = Object.keys(values).find(flag => flag !== 'admin-key');
	if (unknown !== undefined) {
		throw new ConfigError(`Unknown flag --${unknown}. \`switchboard attach --help\` lists them.`);
	}

	const flag = values['admin-key'];
	if (typeof flag === 'boolean') {
		throw new ConfigError('--admin-key needs a key: --admin-key K.');
	}

	if (positionals.length !== 1) {
		throw new ConfigError(positionals.length === 0
			? 'Attach to which switchboard? Give its address: switchboard attach http://127.0.0.1:8080.'
			: `Attach takes one address, not \`${positionals.join(' ')}\`.`);
	}

	const adminKey = flag ?? env['SWITCHBOARD_ADMIN_KEY'];
	const keySource = flag === undefined ? 'SWITCHBOARD_ADMIN_KEY' : '--admin-key';
	if (adminKey === '') {
		throw new ConfigError(`${keySource} is empty (an unset variable?): give the key, or leave it out when switchboard has none.`);
	}

	return {url: readUrl(positionals[0]!), adminKey, keySource};
}

/** switchboard's origin from an address as typed: http or https, no path; a bare host:port means http. */
function readUrl(text: string): string {
	const example = 'http://127.0.0.1:8080 or 127.0.0.1:8080';
	let url: URL;
	try {
		url = new URL(text.includes('://') ? text : `http://${text}`);
	} catch {
		throw new ConfigError(`\`${text}\` is not an address to attach to; give one such as ${example}.`);
	}

	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		throw new ConfigError(`Attach over http or https, not ${url.protocol.slice(0, -1)} (got \`${text}\`).`);
	}

	if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
		throw new ConfigError(`Give switchboard's address alone, such as ${example}, without a path, query or user (got \`${text}\`); a key goes in --admin-key.`);
	}

	return url.origin;
}

async function readStatus(link: ConsoleLink, url: string, keySource: string | undefined): Promise<StatusReply> {
	let reply;
	try {
		reply = await link.request('GET', '/status');
	} catch (error) {
		throw error instanceof LinkError ? new ConfigError(`${error.message}. Is switchboard running there, and listening on that interface (--host)?`) : error;
	}

	if (reply.status === 401 || reply.status === 403) {
		throw new ConfigError(keySource === undefined
			? `${url} needs a key: give one with --admin-key K (or SWITCHBOARD_ADMIN_KEY). Any of its keys reads; its commands need the admin key.`
			: `${url} does not take the key from ${keySource} (GET /status answered ${reply.status}). Any of its keys reads; its commands need the admin key.`);
	}

	if (reply.status !== 200) {
		throw new ConfigError(`${url} is not a switchboard, or not a working one: GET /status answered ${reply.status}: ${errorMessage(reply.body).slice(0, 300)}`);
	}

	const status = parseJson(reply.body) as Partial<StatusReply> | undefined;
	if (typeof status?.switchboard?.version !== 'string' || !Array.isArray(status.models)) {
		throw new ConfigError(`${url} is not a switchboard, or one older than this: its GET /status does not describe switchboard itself.`);
	}

	return status as StatusReply;
}

function parseJson(text: string): unknown {
	try {
		return JSON.parse(text) as unknown;
	} catch {
		return undefined;
	}
}
