/** A configuration the user gave us cannot be used; the message says what and why. */
export class ConfigError extends Error {
	override name = 'ConfigError';
}
