import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

const WARM_UP_DRAWS = 64;

/** Seeds are any non-negative safe integer; both halves are folded into the 32-bit seed the generator takes. */
function foldSeed(seed: number): number {
  const low = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  return (low ^ Math.imul(high, 0x9e3779b1)) | 0;
}

/**
 * A seeded stream of random numbers. `stream` selects one of 2^64 non-overlapping
 * subsequences of the same seed (xoroshiro128+ jumps), so that sample j of a request has its
 * own stream whatever the other samples draw: results do not depend on batching.
 */
export class SeededRandom {
  private readonly generator: RandomGenerator & { jump(): void };
  private spareNormal: number | undefined;

  constructor(seed: number, stream = 0) {
    this.generator = xoroshiro128plus(foldSeed(seed)) as RandomGenerator & { jump(): void };
    // A freshly seeded xoroshiro state is mostly zero bits and its first outputs are far from uniform.
    for (let i = 0; i < WARM_UP_DRAWS; i++) this.generator.next();
    for (let i = 0; i < stream; i++) this.generator.jump();
  }

  /** Uniform on [0, 1), a multiple of 2^-53. */
  uniform(): number {
    return uniformFloat64(this.generator);
  }

  /** Uniform on (0, 1]: the inverse-CDF sampler needs u > 0 so that a zero-probability first token is never chosen. */
  uniformPositive(): number {
    return 1 - uniformFloat64(this.generator);
  }

  /** Standard normal by the Box–Muller transform. */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(this.uniformPositive()));
    const angle = 2 * Math.PI * this.uniform();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  fillNormal(out: Float32Array, mean: number, std: number): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }
}
