/**
 * Seeded pseudo-random numbers for the synthetic cohort (sfc32, seeded through a string hash).
 * Every draw in the generator goes through an Rng derived from the cohort seed, so that the same seed
 * always gives the same bytes. `fork(label)` gives an independent stream per purpose (anatomy, lesions,
 * noise, ...), so adding a draw in one place does not shift every other draw.
 */

/** 32-bit FNV-1a then a murmur-style finaliser: a stable hash of a string to four 32-bit seeds. */
function hashToSeeds(text: string): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0];
  for (let part = 0; part < 4; part++) {
    let h = (0x811c9dc5 ^ (part * 0x9e3779b9)) >>> 0;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b) >>> 0;
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h ^= h >>> 16;
    out[part] = h >>> 0;
  }
  return out;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined;

  /** A generator seeded from any string or number; equal seeds give equal sequences. */
  constructor(readonly seed: string | number) {
    [this.a, this.b, this.c, this.d] = hashToSeeds(String(seed));
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** An independent stream for one purpose, e.g. rng.fork('nodes'). */
  fork(label: string): Rng {
    return new Rng(`${String(this.seed)}/${label}`);
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [min, max] inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Index drawn with the given (unnormalised) weights. */
  weighted(weights: readonly number[]): number {
    const total = weights.reduce((s, w) => s + w, 0);
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return mean + sd * z;
    }
    let u = 0;
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }

  /** Exponential with the given rate. */
  exponential(rate: number): number {
    let u = 0;
    while (u <= 1e-12) u = this.next();
    return -Math.log(u) / rate;
  }
}

/** A fast stateless hash of integer lattice coordinates to [0, 1): the basis of the value-noise textures. */
export function latticeHash(seed: number, ix: number, iy: number, iz: number): number {
  let h = (seed ^ Math.imul(ix, 0x27d4eb2d) ^ Math.imul(iy, 0x165667b1) ^ Math.imul(iz, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

/** A 32-bit integer seed from a string (for latticeHash). */
export function seedInt(text: string): number {
  return hashToSeeds(text)[0];
}
