export { maskProbability, noiseRate, totalNoise } from './noise-schedule.js';
