/** Rectangle in pixel coordinates of the referenced source image (column = x, row = y). */
export interface PixelBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
