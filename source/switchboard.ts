import {KeyStore} from './access/key-store.js';
import type {Config} from './config/types.js';
import {handleAdmin} from './admin/router.js';
import {DataPlaneBridge} from './dataplane/bridge.js';
import type {ModelRoute} from './dataplane/protocol.js';
import {Fleet} from './fleet/fleet.js';
import type {Launch} from './launchers/types.js';
import {backendOutput, type Logger} from './log/logger.js';
import {PrometheusExporter} from './metrics/exporter.js';
import {httpProbe} from './metrics/probe.js';
import {Telemetry} from './metrics/telemetry.js';
import {systemClock} from './util/clock.js';

export interface Switchboard {
	/** Where the proxy listens, e.g. http://127.0.0.1:8100. */
	readonly url: string;
	readonly fleet: Fleet;
	/** Stops serving, then every backend. */
	close(reason: string): Promise<void>;
}

/** How often the data plane reports traffic (idle timers and stats read it). */
const statsIntervalMs = 250;

/**
 * Wires config → fleet → data plane: the fleet's state becomes the data plane's routing table,
 * and the data plane's demand and activity become fleet commands.
 */
export async function startSwitchboard(config: Config, logger: Logger, launch: Launch): Promise<Switchboard> {
	let bridge: DataPlaneBridge | undefined;
	const clock = systemClock;
	const fleet = new Fleet(config, {
		clock,
		launch,
		quiesce: async model => bridge?.quiesce(model) ?? false,
	});
	const fleetLog = logger.child({component: 'fleet'});
	const keys = new KeyStore(config.server, config.models.map(model => model.name), logger.child({component: 'keys'}), table => {
		bridge?.keys(table);
	});
	const routes = (): ModelRoute[] => fleet.models.map(model => ({
		name: model.name,
		aliases: model.config.aliases,
		servedName: model.config.servedName === model.name ? undefined : model.config.servedName,
		state: model.state,
		backends: model.backends(),
		maxQueue: model.config.maxQueue,
		maxWaitMs: model.config.maxWaitMs,
		onCold: model.config.onCold,
		routing: model.config.routing,
	}));
	const telemetry = new Telemetry(config.server.health, clock, httpProbe, {
		health(backend) {
			const fields = {model: backend.model, backend: backend.url, reason: backend.lastError};
			if (backend.healthy) {
				fleetLog.info(fields, 'backend healthy again');
			} else {
				fleetLog.warn(fields, `backend unhealthy after ${backend.failures} failed checks`);
			}

			fleet.events.emit({type: 'backend.health', model: backend.model, url: backend.url, healthy: backend.healthy, reason: backend.lastError, at: clock.now()});
		},
		loads(loads) {
			bridge?.backendLoads(loads);
		},
	});
	const exporter = new PrometheusExporter(fleet, telemetry);
	const watchBackends = () => {
		telemetry.watch(fleet.models.flatMap(model => model.backends().map(backend => ({model: model.name, url: backend.url, pingPath: model.config.pingPath}))));
	};

	fleet.events.on(event => {
		if (event.type === 'log') {
			fleetLog.debug({model: event.model, line: event.line}, backendOutput);
			return;
		}

		if (event.type !== 'model.state') {
			return;
		}

		watchBackends();

		const fields = {model: event.model, state: event.state, previous: event.previous, reason: event.reason};
		if (event.state === 'failed') {
			fleetLog.error(fields, 'model failed');
		} else {
			fleetLog.info(fields, `model ${event.state}`);
		}

		bridge?.routes(routes());
		if (event.state === 'failed' && event.previous === 'loading' && event.reason) {
			bridge?.failWaiters(event.model, event.reason);
		}
	});

	bridge = new DataPlaneBridge({
		host: config.server.host,
		port: config.server.port,
		keys: keys.table,
		maxBodyBytes: config.server.maxBodyBytes,
		logLevel: config.server.logLevel,
		jsonLogs: config.server.jsonLogs,
		statsIntervalMs,
	}, {
		demand(model) {
			fleet.demand(model);
		},
		activity(models, backends) {
			fleet.activity(models);
			telemetry.activity(backends);
		},
		async admin(request) {
			return handleAdmin(request, {fleet, telemetry, exporter, keys});
		},
		crashed(error) {
			logger.fatal({err: error}, 'data plane crashed');
			void fleet.stopAll('data plane crashed').finally(() => process.exit(1));
		},
	});
	bridge.routes(routes());

	let url: string;
	try {
		url = await bridge.listening;
	} catch (error) {
		await bridge.close().catch(() => undefined);
		throw error;
	}

	watchBackends();
	telemetry.monitor.start();
	keys.watch();
	const activeBridge = bridge;
	return {
		url,
		fleet,
		async close(reason) {
			telemetry.monitor.stop();
			keys.close();
			await activeBridge.close();
			await fleet.stopAll(reason);
		},
	};
}
