import {createServer} from 'node:net';

/**
 * The first port from `base` up that can be bound on `host` and is not in `taken`
 * (ports handed out to backends that have not bound them yet).
 */
export async function findFreePort(host: string, base: number, taken: ReadonlySet<number>): Promise<number> {
	for (let port = base; port < 65_536; port++) {
		if (!taken.has(port) && await canBind(host, port)) {
			return port;
		}
	}

	throw new Error(`No free port from ${base} up on ${host}.`);
}

export async function canBind(host: string, port: number): Promise<boolean> {
	return new Promise(resolve => {
		const server = createServer();
		server.once('error', () => {
			resolve(false);
		});
		server.listen({port, host, exclusive: true}, () => {
			server.close(() => {
				resolve(true);
			});
		});
	});
}
