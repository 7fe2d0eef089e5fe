const units: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000};

/**
 * Parses `90`, `90s`, `30m`, `1.5h` or `250ms` into milliseconds. A bare number is seconds,
 * as in llm-proxy-ondemand's `--idle-timeout 1800`. Returns undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
	const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
	if (!match) {
		return undefined;
	}

	return Math.round(Number(match[1]) * units[match[2] ?? 's']!);
}

export function formatDuration(ms: number): string {
	const seconds = Math.round(ms / 1000);
	if (seconds < 60) {
		return `${seconds}s`;
	}

	const minutes = Math.floor(seconds / 60);
	if (minutes < 60) {
		return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
	}

	const hours = Math.floor(minutes / 60);
	return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
}
