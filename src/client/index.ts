export { type ClientOptions, MdlmClient, type RemoteGeneration, type RemoteModel, type RemoteScore, mapConcurrently } from './client.js';
