/**
 * The part of opentype.js the heat-map text renderer uses. Declared here rather than through
 * @types/opentype.js, whose `/// <reference lib="dom" />` would pull browser types into this Node project.
 */
declare module 'opentype.js' {
  export interface Path {
    toPathData(decimalPlaces?: number): string;
  }
  export interface Font {
    unitsPerEm: number;
    ascender: number;
    descender: number;
    getAdvanceWidth(text: string, fontSize?: number): number;
    getPath(text: string, x: number, y: number, fontSize?: number): Path;
  }
  export function parse(buffer: ArrayBuffer | ArrayBufferLike): Font;
}
