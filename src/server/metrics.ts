/**
 * Prometheus metrics: one registry per server, fed by the service's pass reports (passes,
 * batch sizes, tokens drawn) and the request summaries (requests by outcome). The metrics
 * plugin serves it at GET /metrics.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GenerationService, PassReport } from '../generation/index.js';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'endpoint' | 'outcome'>;
  private readonly generatedTokens: Counter;
  private readonly batchRows: Histogram;
  private readonly passSeconds: Histogram;
  private readonly passes: Counter<'status'>;

  private readonly detachPasses: () => void;

  constructor(service: GenerationService) {
    const registers = [this.registry];
    new Gauge({ name: 'mdlm_queue_depth', help: 'Sequences waiting for a forward pass', registers, collect() { this.set(service.status().queueDepth); } });
    new Gauge({ name: 'mdlm_active_sequences', help: 'Sequences admitted and not finished', registers, collect() { this.set(service.status().activeSequences); } });
    // The model-server protocol of the Gateway API Inference Extension: requests waiting, requests running, and the share of memory in use.
    new Gauge({ name: 'mdlm_num_requests_waiting', help: 'Requests admitted and not yet in a forward pass', registers, collect() { this.set(service.status().waitingRequests); } });
    new Gauge({ name: 'mdlm_num_requests_running', help: 'Requests in progress that have been in a forward pass', registers, collect() { this.set(service.status().runningRequests); } });
    new Gauge({
      name: 'mdlm_queue_usage_ratio',
      help: 'Share of the admission queue in use, 0 to 1: sequences admitted / --max-queue (at 1 new requests are refused as overloaded)',
      registers,
      collect() {
        const { activeSequences, queueCapacity } = service.status();
        this.set(activeSequences / queueCapacity);
      },
    });
    this.batchRows = new Histogram({ name: 'mdlm_batch_rows', help: 'Sequences per forward pass', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers });
    this.passSeconds = new Histogram({
      name: 'mdlm_forward_pass_seconds',
      help: 'Compute time of one batched forward pass',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.passes = new Counter({ name: 'mdlm_forward_passes_total', help: 'Batched forward passes run', labelNames: ['status'], registers });
    this.generatedTokens = new Counter({ name: 'mdlm_generated_tokens_total', help: 'Tokens unmasked by the sampler (rate() gives tokens/s)', registers });
    this.requests = new Counter({ name: 'mdlm_requests_total', help: 'Requests by endpoint and outcome (ok, cancelled or an error code)', labelNames: ['endpoint', 'outcome'], registers });
    collectDefaultMetrics({ register: this.registry });
    this.detachPasses = service.onPass(this.observePass);
  }

  detach(): void {
    this.detachPasses();
  }

  private readonly observePass = (report: PassReport): void => {
    this.passes.inc({ status: report.ok ? 'ok' : 'failed' });
    if (!report.ok) return;
    this.batchRows.observe(report.rows);
    this.passSeconds.observe(report.computeMs / 1000);
    this.generatedTokens.inc(report.draws);
  };
}
