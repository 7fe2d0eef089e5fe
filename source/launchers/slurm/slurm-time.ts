/**
 * A duration as SLURM prints and reads it: `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]`, or plain minutes.
 * Undefined for UNLIMITED, NOT_SET, INVALID and anything else that is not a duration.
 */
export function parseSlurmDuration(text: string): number | undefined {
	const match = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(text.trim());
	if (!match) {
		return undefined;
	}

	const [, days, first, second, third] = match;
	const numbers = [first, second, third].filter(part => part !== undefined).map(Number);
	let seconds: number;
	if (days !== undefined) {
		// With days, the fields are hours[:minutes[:seconds]].
		const [hours = 0, minutes = 0, secs = 0] = numbers;
		seconds = (((Number(days) * 24) + hours) * 60 + minutes) * 60 + secs;
	} else if (numbers.length === 3) {
		seconds = (numbers[0]! * 60 + numbers[1]!) * 60 + numbers[2]!;
	} else if (numbers.length === 2) {
		seconds = numbers[0]! * 60 + numbers[1]!;
	} else {
		seconds = numbers[0]! * 60;
	}

	return seconds * 1000;
}
