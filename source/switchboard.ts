import {KeyStore} from './access/key-store.js';
import {changedSettings, liveServerSettings, settingName} from './config/changes.js';
import type {Config, ModelConfig, ServerConfig} from './config/types.js';
import {EventFeed} from './admin/event-feed.js';
import {handleAdmin, type AdminContext} from './admin/router.js';
import {DataPlaneBridge} from './dataplane/bridge.js';
import type {AdminReply, ModelRoute} from './dataplane/protocol.js';
import type {FleetEvent} from './fleet/events.js';
import {Fleet, type ReloadSummary} from './fleet/fleet.js';
import type {LogRing} from './fleet/log-ring.js';
import type {FleetModel} from './fleet/model.js';
import type {PreferenceStore} from './fleet/preferences.js';
import type {JobRecord} from './launchers/slurm/job-ledger.js';
import type {Launch} from './launchers/types.js';
import {backendOutput, type Logger} from './log/logger.js';
import {PrometheusExporter} from './metrics/exporter.js';
import {httpProbe} from './metrics/probe.js';
import {Telemetry} from './metrics/telemetry.js';
import {systemClock} from './util/clock.js';
import {version} from './version.js';

export interface Switchboard {
	/** Where the proxy listens, e.g. http://127.0.0.1:8100. */
	readonly url: string;
	readonly fleet: Fleet;
	/**
	 * An admin call made in-process, with admin rights, without HTTP: what the console's keys send
	 * (the same handlers, checks and replies as the admin API). Streams (GET /events) are not served.
	 */
	admin(method: string, path: string, body?: string): Promise<AdminReply>;
	/**
	 * Applies an edited config live: its models through Fleet.apply, and of [server] what the
	 * running proxy can change (log level, body size limit); the rest needs a restart and is refused.
	 */
	apply(config: Config): ReloadReport;
	/** Stops serving, then every backend. */
	close(reason: string): Promise<void>;
}

export interface ReloadReport extends ReloadSummary {
	/** [server] settings applied live. */
	server: Array<keyof ServerConfig>;
}

/** What switchboard runs with besides its config. */
export interface SwitchboardParts {
	launch: Launch;
	/** The recent lines of switchboard's own log (see createLogger). */
	ownLog: LogRing;
	/** The operator's choices (the state file); by default, this run only. */
	preferences?: PreferenceStore | undefined;
	/**
	 * Finds the SLURM jobs an earlier run left running among these models (configured and ad-hoc),
	 * to take over before the first request (see Launchers.recoverJobs).
	 */
	recoverJobs?: ((models: readonly ModelConfig[]) => Promise<JobRecord[]>) | undefined;
	/** Where the data plane logs instead of stdout (the console owns the terminal). */
	logFile?: string | undefined;
}

/** How often the data plane reports traffic (idle timers and stats read it). */
const statsIntervalMs = 250;

/**
 * Wires config → fleet → data plane: the fleet's state becomes the data plane's routing table,
 * and the data plane's demand and activity become fleet commands. Models pinned on start now.
 */
export async function startSwitchboard(config: Config, logger: Logger, {launch, ownLog, preferences, recoverJobs, logFile}: SwitchboardParts): Promise<Switchboard> {
	let bridge: DataPlaneBridge | undefined;
	const clock = systemClock;
	const startedAt = clock.now();
	const fleet = new Fleet(config, {
		clock,
		launch,
		quiesce: async model => bridge?.quiesce(model) ?? false,
		busyBackends: async urls => bridge?.busyBackends(urls) ?? [],
		preferences,
	});
	// Before anything can happen, so that the feed numbers every event.
	const events = new EventFeed(fleet.events, {clock});
	const fleetLog = logger.child({component: 'fleet'});
	const keys = new KeyStore(config.server, config.models.map(model => model.name), logger.child({component: 'keys'}), table => {
		bridge?.keys(table);
	});
	const route = (model: FleetModel): ModelRoute => {
		// Read once: it compares the running backend's settings with the model's.
		const {servedName} = model;
		return {
			name: model.name,
			aliases: model.config.aliases,
			servedName: servedName === model.name ? undefined : servedName,
			state: model.state,
			backends: model.backends(),
			maxQueue: model.config.maxQueue,
			maxWaitMs: model.config.maxWaitMs,
			onCold: model.config.onCold,
			routing: model.config.routing,
			unavailable: fleet.unavailable(model),
		};
	};
	const routes = (): ModelRoute[] => fleet.models.map(model => route(model));
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
	const exporter = new PrometheusExporter(fleet, telemetry, events);
	const watchBackends = () => {
		telemetry.watch(fleet.models.flatMap(model => model.backends().map(backend => ({model: model.name, url: backend.url, pingPath: model.config.pingPath}))));
	};

	const logEvent = (event: FleetEvent): void => {
		switch (event.type) {
			case 'log': {
				fleetLog.debug({model: event.model, line: event.line}, backendOutput);
				break;
			}

			case 'model.retired': {
				fleetLog.info({model: event.model, reason: event.reason}, 'removed model stopped and forgotten');
				break;
			}

			case 'backend.state': {
				const fields = {model: event.model, replica: event.replica, state: event.state, url: event.url, reason: event.reason};
				if (event.state === 'restarting') {
					fleetLog.warn(fields, 'backend crashed; restarting it');
				} else if (event.state === 'queued' || (fleet.get(event.model)?.config.replicas.max ?? 1) > 1 || fleet.get(event.model)?.config.launcher === 'slurm') {
					// Replicas come and go while the model stays ready: these lines are how scaling shows (and a job's wait in the queue).
					fleetLog.info(fields, `replica ${event.state}`);
				} else {
					fleetLog.debug(fields, `backend ${event.state}`);
				}

				break;
			}

			case 'model.state': {
				const fields = {model: event.model, state: event.state, previous: event.previous, reason: event.reason};
				if (event.state === 'failed') {
					fleetLog.error(fields, 'model failed');
				} else {
					fleetLog.info(fields, `model ${event.state}`);
				}

				break;
			}

			default: {
				// backend.health is logged by the telemetry's callback; added/updated/removed by the reload.
				break;
			}
		}
	};

	fleet.events.on(event => {
		logEvent(event);
		if (event.type === 'log' || event.type === 'switchboard.log' || event.type === 'backend.health') {
			return;
		}

		// The routing table changes now, before the fleet asks the data plane whether a removed
		// model's last requests are done (see Fleet.apply); a retired model is out of it already.
		if (event.type !== 'model.retired') {
			bridge?.routes(routes());
		}

		watchBackends();
		if (event.type === 'model.state' && event.state === 'failed' && event.reason) {
			bridge?.failWaiters(event.model, event.reason);
		}
	});

	// So that /events (and a console attached through it) shows switchboard's own log too.
	ownLog.onLine(line => {
		fleet.events.emit({type: 'switchboard.log', line, at: clock.now()});
	});

	// Before the proxy listens: a request must find a job being taken over, not submit another. The
	// fleet's models include those of POST /switch specs, back from the state file.
	for (const job of await recoverJobs?.(fleet.models.map(model => model.config)) ?? []) {
		fleet.adopt(job);
	}

	let url = '';
	const adminContext: AdminContext = {
		fleet,
		telemetry,
		exporter,
		keys,
		events,
		ownLog,
		about: () => ({version, url, startedAt, auth: keys.table.required}),
	};
	bridge = new DataPlaneBridge({
		host: config.server.host,
		port: config.server.port,
		keys: keys.table,
		maxBodyBytes: config.server.maxBodyBytes,
		logLevel: config.server.logLevel,
		jsonLogs: config.server.jsonLogs,
		logFile,
		statsIntervalMs,
	}, {
		demand(model) {
			fleet.demand(model);
		},
		activity(models, backends) {
			fleet.activity(models, backends);
			telemetry.activity(backends);
		},
		async admin(request) {
			return handleAdmin(request, adminContext);
		},
		crashed(error) {
			logger.fatal({err: error}, 'data plane crashed');
			void fleet.stopAll('data plane crashed').finally(() => process.exit(1));
		},
	});
	bridge.routes(routes());

	try {
		url = await bridge.listening;
	} catch (error) {
		await bridge.close().catch(() => undefined);
		throw error;
	}

	watchBackends();
	telemetry.monitor.start();
	keys.watch();
	fleet.startPinned();
	const activeBridge = bridge;
	let server = config.server;
	return {
		url,
		fleet,
		async admin(method, path, body = '') {
			const [pathname, search] = path.split('?', 2) as [string, string | undefined];
			const answer = await handleAdmin({method, path: pathname, query: Object.fromEntries(new URLSearchParams(search)), access: 'admin', lastEventId: undefined, body}, adminContext);
			if (!('body' in answer)) {
				throw new TypeError(`${method} ${pathname} streams; switchboard.admin serves plain replies only`);
			}

			return answer;
		},
		apply(next) {
			const summary = fleet.apply(next);
			if (summary.added.length > 0 || summary.removed.length > 0) {
				keys.modelsChanged(next.models.map(model => model.name));
			}

			// The keys file's contents are the key store's to reload; only another file is a change here.
			const changed = changedSettings(server, next.server).filter(setting => setting !== 'keysFile' || server.keysFile?.path !== next.server.keysFile?.path);
			const live = changed.filter(setting => liveServerSettings.has(setting));
			const restart = changed.filter(setting => !liveServerSettings.has(setting));
			if (live.length > 0) {
				server = {...server, logLevel: next.server.logLevel, maxBodyBytes: next.server.maxBodyBytes, health: next.server.health};
				telemetry.monitor.reconfigure(server.health);
				logger.level = server.logLevel;
				activeBridge.settings({maxBodyBytes: server.maxBodyBytes, logLevel: server.logLevel});
			}

			if (restart.length > 0) {
				const names = restart.map(setting => `server.${settingName(setting)}`).join(', ');
				summary.refused.push(`${names} changed, which needs a restart of switchboard; until then it keeps the values it started with.`);
			}

			return {...summary, server: live};
		},
		async close(reason) {
			telemetry.monitor.stop();
			keys.close();
			await activeBridge.close();
			await fleet.stopAll(reason);
		},
	};
}
