/**
 * Many idle vLLM servers in one small process, for the scrape-cost measurement: each answers
 * /metrics with the same text (taken from a real `switchboard sim` by the bench), /health and
 * /v1/models. What is measured is switchboard scraping them, so they run apart from it, and
 * apart from the bench, whose own work must not land on either.
 *
 * Usage (by processes.ts, with an IPC channel): metrics-servers.ts <count> <metrics text file> <model name>
 * Sends {urls} over IPC once every server listens; answers {type: 'scrapes'} with
 * {scrapes: [...]}, the /metrics requests each server has answered; exits on SIGTERM, SIGINT or
 * when the bench goes away.
 */
import {readFileSync} from 'node:fs';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';

export interface MetricsServersReady {
	urls: string[];
}

export interface ScrapeCounts {
	scrapes: number[];
}

const [countText, metricsPath, model] = process.argv.slice(2);
const count = Number(countText);
if (!Number.isInteger(count) || count < 1 || metricsPath === undefined || model === undefined || !process.send) {
	throw new Error('metrics-servers.ts is started by processes.ts: metrics-servers.ts <count> <metrics text file> <model name>, with an IPC channel');
}

const metrics = readFileSync(metricsPath);
const models = Buffer.from(JSON.stringify({
	object: 'list',
	data: [{id: model, object: 'model', created: Math.floor(Date.now() / 1000), owned_by: 'vllm', root: model, parent: null, max_model_len: 4096}],
}));
const scrapes = new Array<number>(count).fill(0);

function answer(index: number, request: IncomingMessage, response: ServerResponse): void {
	// Only the path: switchboard asks for nothing else.
	switch (request.url) {
		case '/metrics': {
			scrapes[index]!++;
			// The content type prometheus_client sends, as vLLM's /metrics does.
			response.writeHead(200, {'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': metrics.length});
			response.end(metrics);
			break;
		}

		case '/health': {
			response.writeHead(200, {'content-length': 0});
			response.end();
			break;
		}

		case '/v1/models': {
			response.writeHead(200, {'content-type': 'application/json', 'content-length': models.length});
			response.end(models);
			break;
		}

		default: {
			response.writeHead(404, {'content-length': 0});
			response.end();
		}
	}
}

const servers: Server[] = [];
const urls = await Promise.all(Array.from({length: count}, async (_unused, index) => new Promise<string>((resolve, reject) => {
	const server = createServer((request, response) => {
		answer(index, request, response);
	});
	// vLLM (uvicorn) keeps idle connections for 5 s; longer than the scrape interval either way, so switchboard's pool reuses them.
	server.keepAliveTimeout = 5000;
	servers.push(server);
	server.once('error', reject);
	server.listen(0, '127.0.0.1', () => {
		resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
	});
})));

process.on('message', message => {
	if ((message as {type?: string}).type === 'scrapes') {
		process.send?.({scrapes} satisfies ScrapeCounts);
	}
});
for (const event of ['SIGTERM', 'SIGINT', 'disconnect'] as const) {
	process.on(event, () => {
		for (const server of servers) {
			server.closeAllConnections();
			server.close();
		}

		process.exit(0);
	});
}

process.send({urls} satisfies MetricsServersReady);
