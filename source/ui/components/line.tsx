import {Text} from 'ink';
import {useColor, type Cell} from '../theme.js';

export interface LineProps {
	/** Pre-formatted pieces, laid out by the caller (widths computed once per frame). */
	cells: readonly Cell[];
	/** The selected row. */
	inverse?: boolean;
}

/**
 * One terminal line as one `<Text>` with a nested `<Text>` per coloured piece: the cheapest shape
 * Ink lays out (a `<Box>` per cell costs several times more per frame). Too long a line is cut, never wrapped.
 */
export function Line({cells, inverse = false}: LineProps) {
	const color = useColor();
	return (
		<Text wrap="truncate-end" inverse={inverse}>
			{cells.map((cell, index) => cell.color === undefined && !cell.dim && !cell.bold
				? cell.text
				// A line's pieces have no identity but their place.
				: <Text key={index} color={color ? cell.color : undefined} dimColor={color && cell.dim} bold={cell.bold}>{cell.text}</Text>)}
		</Text>
	);
}
