import {KeyStore} from './access/key-store.js';
import type {Config} from './config/types.js';
import {handleAdmin} from './admin/router.js';
import {DataPlaneBridge} from './dataplane/bridge.js';
import type {ModelRoute} from './dataplane/protocol.js';
import {Fleet} from './fleet/fleet.js';
import type {Launch} from './launchers/types.js';
import {backendOutput, type Logger} from './log/logger.js';

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
	const fleet = new Fleet(config, {
		launch,
		quiesce: async model => bridge?.quiesce(model) ?? false,
	});
	const fleetLog = logger.child({component: 'fleet'});
	const keys = new KeyStore(config.server, config.models.map(model => model.name), logger.child({component: 'keys'}), table => {
		bridge?.keys(table);
	});
	const routes = (): ModelRoute[] => fleet.models.map(model => ({
		name: model.name,
		servedName: model.config.servedName === model.name ? undefined : model.config.servedName,
		state: model.state,
		backends: model.backends(),
		maxQueue: model.config.maxQueue,
		maxWaitMs: model.config.maxWaitMs,
	}));

	fleet.events.on(event => {
		if (event.type === 'log') {
			fleetLog.debug({model: event.model, line: event.line}, backendOutput);
			return;
		}

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
		activity(models) {
			fleet.activity(models);
		},
		async admin(request) {
			return handleAdmin(request, fleet, keys);
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

	keys.watch();
	const activeBridge = bridge;
	return {
		url,
		fleet,
		async close(reason) {
			keys.close();
			await activeBridge.close();
			await fleet.stopAll(reason);
		},
	};
}
