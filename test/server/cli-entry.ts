/** The mdlm CLI run from the TypeScript sources, so that tests need no build: `node --import tsx test/server/cli-entry.ts serve ...`. */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
