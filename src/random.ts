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

type JumpableGenerator = RandomGenerator & { jump(): void };

function warmedUp(seed: number): JumpableGenerator {
  const generator = xoroshiro128plus(foldSeed(seed)) as JumpableGenerator;
  // A freshly seeded xoroshiro state is mostly zero bits and its first outputs are far from uniform.
  for (let i = 0; i < WARM_UP_DRAWS; i++) generator.next();
  return generator;
}

/** A seeded stream of random numbers (pure-rand's xoroshiro128+). */
export class SeededRandom {
  private spareNormal: number | undefined;

  private constructor(private readonly generator: JumpableGenerator) {}

  static fromSeed(seed: number): SeededRandom {
    return new SeededRandom(warmedUp(seed));
  }

  /**
   * `count` non-overlapping streams of one seed: stream j starts 2^64·j draws in (j
   * xoroshiro128+ jumps), so sample j of a request draws the same numbers whatever the
   * other samples do, and streams are made in O(count) jumps.
   */
  static streams(seed: number, count: number): SeededRandom[] {
    const generator = warmedUp(seed);
    return Array.from({ length: count }, () => {
      const stream = new SeededRandom(generator.clone() as JumpableGenerator);
      generator.jump();
      return stream;
    });
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
