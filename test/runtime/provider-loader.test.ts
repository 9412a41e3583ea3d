import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ProviderEnvironment, dynamicLoaderError, explainProviderFailure } from '../../src/runtime/providers.js';
import { tempDir } from '../helpers/tmp.js';

/** onnxruntime-node's whole error when its CUDA provider library does not load (1.29 and 1.30 alike). */
const LOAD_FAILED = 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library';

function hasGcc(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A shared library that needs libmdlm-absent.so.1, as the CUDA provider needs cuBLAS: linked
 * against a stand-in that is removed once the library is built.
 */
function libraryWithMissingDependency(): { library: string; dependencyFree: string } {
  const dir = tempDir();
  const dependency = join(dir, 'libmdlm-absent.so.1');
  const source = join(dir, 'empty.c');
  writeFileSync(source, 'void mdlm_probe(void) {}\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', dependency, '-Wl,-soname,libmdlm-absent.so.1', source]);
  const library = join(dir, 'provider.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', library, source, '-Wl,--no-as-needed', dependency]);
  const dependencyFree = join(dir, 'free.so');
  execFileSync('gcc', ['-shared', '-fPIC', '-o', dependencyFree, source]);
  rmSync(dependency);
  return { library, dependencyFree };
}

test('a provider library that does not load: the loader names the missing dependency, and the reason carries it', { skip: (process.platform !== 'linux' || !hasGcc()) && 'needs Linux and gcc' }, () => {
  const { library, dependencyFree } = libraryWithMissingDependency();
  const loadError = dynamicLoaderError(library);
  assert.match(loadError ?? '', /^libmdlm-absent\.so\.1: cannot open shared object file/);
  // A library that loads is no reason (it is no Node addon, which is not what failed).
  assert.equal(dynamicLoaderError(dependencyFree), undefined);

  const environment: ProviderEnvironment = {
    platform: 'linux/x64',
    backends: [{ name: 'cuda', bundled: false }],
    missingCudaLibraries: [],
    vulkanLoader: undefined,
    cudaProviderLoadError: () => dynamicLoaderError(library),
  };
  const reason = explainProviderFailure('cuda', new Error(LOAD_FAILED), environment);
  assert.match(reason, /^the CUDA library libmdlm-absent\.so\.1 was not found: .*LD_LIBRARY_PATH \(OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library: libmdlm-absent\.so\.1: cannot open/);
});
