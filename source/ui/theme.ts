import {createContext, useContext} from 'react';
import type {TextProps} from 'ink';

/**
 * Colour carries meaning only (state, level, errors); with NO_COLOR, or on a terminal without
 * colours, it is left out and the words still say everything.
 */
export const ColorContext = createContext(true);

export function useColor(): boolean {
	return useContext(ColorContext);
}

/** Whether this environment wants colours (https://no-color.org: any non-empty NO_COLOR turns them off). */
export function colorWanted(env: NodeJS.ProcessEnv): boolean {
	return (env['NO_COLOR'] ?? '') === '' && env['TERM'] !== 'dumb';
}

/** A colour name Ink knows (red, green, yellow, cyan, gray…). */
export type Color = NonNullable<TextProps['color']>;

/** A piece of a pre-formatted line: text, and how it is shown. */
export interface Cell {
	text: string;
	color?: Color | undefined;
	dim?: boolean | undefined;
	bold?: boolean | undefined;
}
