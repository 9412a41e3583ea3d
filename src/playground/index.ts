export { PLAYGROUND_ASSETS, PLAYGROUND_PREFIX, playground } from './plugin.js';
