import type {Stats} from 'node:fs';
import {loadKeysFile} from '../config/keys-file.js';
import type {ServerConfig, UserKey} from '../config/types.js';
import type {KeyTable} from '../dataplane/protocol.js';
import type {Logger} from '../log/logger.js';
import {watchFileChanges, type FileWatch} from '../util/file-watch.js';
import {keyTable} from './key-table.js';

/** How often the keys file is checked for changes. */
const pollIntervalMs = 1000;

/**
 * The keys on the control plane: those of the config, plus those of the keys file, read again
 * whenever it changes. Each change reaches the data plane as a whole new key table.
 */
export class KeyStore {
	#fileKeys: readonly UserKey[];
	#watch: FileWatch | undefined;

	constructor(
		private readonly server: ServerConfig,
		private modelNames: readonly string[],
		private readonly logger: Logger,
		private readonly publish: (table: KeyTable) => void,
	) {
		this.#fileKeys = server.keysFile?.keys ?? [];
	}

	/** The keys file, if there is one. */
	get file(): string | undefined {
		return this.server.keysFile?.path;
	}

	get table(): KeyTable {
		return keyTable(this.server, this.#fileKeys);
	}

	/**
	 * Reads the keys file again and applies its keys at once; returns how many it holds. A file
	 * that cannot be used throws a ConfigError saying why, and the keys read before stay.
	 */
	reload(): number {
		const {file} = this;
		if (file === undefined) {
			return 0;
		}

		this.#fileKeys = loadKeysFile(file, this.modelNames);
		this.publish(this.table);
		this.logger.info({file, keys: this.#fileKeys.length}, 'keys file read');
		return this.#fileKeys.length;
	}

	/**
	 * The models changed (a live reload): the keys file is read again against them, so a key may
	 * name a model added a moment ago.
	 */
	modelsChanged(modelNames: readonly string[]): void {
		this.modelNames = modelNames;
		if (this.file !== undefined) {
			this.#reloadOrKeep();
		}
	}

	watch(): void {
		if (this.file !== undefined) {
			this.#watch = watchFileChanges(this.file, pollIntervalMs, this.#onChange);
		}
	}

	close(): void {
		this.#watch?.stop();
	}

	readonly #onChange = (current: Stats | undefined): void => {
		if (current === undefined) {
			// The old keys stay: a file gone for a moment (a deploy, a checkout, a save by some
			// tools) must not lock everyone out, and letting everyone in would be worse. Keys are
			// revoked by taking them out of the file; this line says so.
			this.logger.warn({file: this.file}, 'the keys file is gone: the keys it had stay valid until it is back; to revoke keys, remove them from the file');
			return;
		}

		this.#reloadOrKeep();
	};

	#reloadOrKeep(): void {
		try {
			this.reload();
		} catch (error) {
			this.logger.error({file: this.file, reason: (error as Error).message}, 'keys file not applied: the keys read before stay valid');
		}
	}
}
