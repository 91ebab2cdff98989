// Chart colours and shared axis settings, so every page's charts read alike. The palette is
// Okabe–Ito's (distinguishable with the common colour-vision deficiencies).

export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

/** The colour of the `index`-th series. */
export function seriesColor(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** Height of a standard chart in pixels (width follows the panel). */
export const CHART_HEIGHT = 280;

/** Ticks of a 0..1 rate axis as percentages. */
export const rateTick = (value: number) => `${Math.round(value * 100)}%`;
