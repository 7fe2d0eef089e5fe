import {settingName} from './config/changes.js';
import type {ConfigOrigin} from './config/from-cli.js';
import type {Config} from './config/types.js';
import type {ModelChange} from './fleet/fleet.js';
import {warnUnboundHosts} from './launchers/command.js';
import type {Logger} from './log/logger.js';
import {watchFileChanges} from './util/file-watch.js';
import type {ReloadReport, Switchboard} from './switchboard.js';

/** How often the file is checked when it does not say itself (servers.toml's config_reload_interval). */
const defaultReloadIntervalMs = 1000;

interface ConfigWatch {
	stop(): void;
}

/**
 * Applies every edit of the config file switchboard was started from, live (see watchFileChanges);
 * an edit that does not load is reported and the running configuration stays.
 */
export function watchConfig(origin: ConfigOrigin, initial: Config, switchboard: Pick<Switchboard, 'apply'>, logger: Logger): ConfigWatch {
	let intervalMs = initial.reloadIntervalMs ?? defaultReloadIntervalMs;
	const watch = watchFileChanges(origin.file, intervalMs, () => {
		const config = reloadConfig(origin, switchboard, logger);
		const wanted = config?.reloadIntervalMs ?? defaultReloadIntervalMs;
		if (config && wanted !== intervalMs) {
			intervalMs = wanted;
			watch.setInterval(intervalMs);
		}
	});
	return watch;
}

/** Loads the file and applies it, logging what changed; undefined (and one error line) when it does not load. */
function reloadConfig(origin: ConfigOrigin, switchboard: Pick<Switchboard, 'apply'>, logger: Logger): Config | undefined {
	let config: Config;
	try {
		config = origin.load();
	} catch (error) {
		logger.error({file: origin.file}, `config not reloaded, the running configuration stays: ${(error as Error).message}`);
		return undefined;
	}

	const report = switchboard.apply(config);
	logger.info({file: origin.file, added: report.added, removed: report.removed, changed: report.changed.map(change => change.name)}, describeReload(report));
	for (const refusal of report.refused) {
		logger.warn({file: origin.file}, refusal);
	}

	const commandChanged = new Set(report.changed.filter(change => change.settings.includes('command')).map(change => change.name));
	warnUnboundHosts(config.models.filter(model => report.added.includes(model.name) || commandChanged.has(model.name)), logger);

	return config;
}

/** `config reloaded: added qwen, removed llama (draining), changed mistral (idle_timeout)`. */
export function describeReload(report: ReloadReport): string {
	const parts = [
		...report.added.map(name => `added ${name}`),
		...report.removed.map(name => `removed ${name} (draining)`),
		...report.changed.map(change => `changed ${change.name} (${describeChange(change)})`),
		...report.server.map(setting => `changed server.${settingName(setting)}`),
	];
	return `config reloaded: ${parts.length === 0 ? 'nothing changed' : parts.join(', ')}`;
}

function describeChange({settings, atNextStart}: ModelChange): string {
	const now = settings.filter(setting => !atNextStart.includes(setting)).map(settingName).join(', ');
	const later = atNextStart.length > 0 ? `${atNextStart.map(settingName).join(', ')}: at its next start` : '';
	return [now, later].filter(Boolean).join('; ');
}
