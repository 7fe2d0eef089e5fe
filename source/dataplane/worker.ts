/**
 * Entry point of the data-plane worker thread. Kept apart from the main thread so that UI
 * frames and control work never stall a proxied request.
 */
import {openSync} from 'node:fs';
import {parentPort, workerData} from 'node:worker_threads';
import {createLogger} from '../log/logger.js';
import type {ControlMessage, DataMessage, DataPlaneOptions} from './protocol.js';
import {DataPlane} from './server.js';

const options = workerData as DataPlaneOptions;
const port = parentPort!;
const logger = createLogger({level: options.logLevel, json: options.jsonLogs, fd: options.logFile === undefined ? 1 : openSync(options.logFile, 'a')}).child({component: 'proxy'});
const plane = new DataPlane(options, (message: DataMessage) => {
	port.postMessage(message);
}, logger);
port.on('message', (message: ControlMessage) => {
	plane.receive(message);
});
plane.listen();
