/** The switchboard.toml an operator would write for servers someone else runs: one static model. */
import {mkdirSync, writeFileSync} from 'node:fs';
import path from 'node:path';

export interface StaticConfig {
	backends: readonly string[];
	healthChecks: boolean;
	/** A duration as the file takes it, e.g. "2s". */
	healthInterval: string;
}

/** Writes `<dir>/<name>.toml` and returns its path. */
export function writeStaticConfig(dir: string, name: string, config: StaticConfig): string {
	// JSON strings are TOML basic strings as long as they hold no control characters, which paths and URLs here do not.
	const text = [
		'[server]',
		'port = 0',
		`log_dir = ${JSON.stringify(path.join(dir, `${name}-logs`))}`,
		`health_checks = ${config.healthChecks}`,
		`health_interval = ${JSON.stringify(config.healthInterval)}`,
		'',
		'[[models]]',
		'name = "m"',
		'launcher = "static"',
		'backends = [',
		...config.backends.map(url => `\t{url = ${JSON.stringify(url)}},`),
		']',
		'',
	].join('\n');
	mkdirSync(dir, {recursive: true});
	const file = path.join(dir, `${name}.toml`);
	writeFileSync(file, text);
	return file;
}
