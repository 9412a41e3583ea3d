/**
 * The playground: watch the masked canvas turn into text, step by step.
 *
 * It speaks the documented WebSocket protocol of /v1/stream and nothing else.
 *   client → server: {"type":"generate","id",...fields,"decode_text":true,"mask_text"}
 *                    {"type":"cancel","id"}
 *   server → client, per id: "started", then "step" messages, then exactly one of
 *                    "done", "error" or "cancelled".
 * The only other call is GET /v1/models, for the model's name and length.
 * With an API key, REST sends it as a Bearer token and the WebSocket as the subprotocol
 * "mdlm-key.<base64url(key)>" beside "mdlm.v1" (a browser socket cannot set headers).
 */

/**
 * What the server writes for each masked position in `text` (a private-use character, which
 * no real text contains): splitting the text there separates the masks from the decoded runs.
 */
const MASK_MARK = '\uE000';

const form = document.querySelector('#request');
const generateButton = document.querySelector('#generate');
const stopButton = document.querySelector('#stop');
const statusLine = document.querySelector('#status');
const errorBox = document.querySelector('#error');
const samplesBox = document.querySelector('#samples');
const sampleTemplate = document.querySelector('#sample');
const stats = {
  step: document.querySelector('#step'),
  passes: document.querySelector('#passes'),
  remasked: document.querySelector('#remasked'),
  elapsed: document.querySelector('#elapsed'),
  rate: document.querySelector('#rate'),
  seed: document.querySelector('#seed'),
};

let socket;
let requestCount = 0;
/** Whether GET /v1/models answered 401: the server wants a key this page does not have (or has wrong). */
let keyRefused = false;
/** The request in flight, or undefined. */
let current;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  generate();
});
stopButton.addEventListener('click', stop);
form.elements.namedItem('api_key').addEventListener('change', () => {
  // A new key needs a new socket: the key is presented when the socket opens.
  if (!current) socket?.close();
  showModel();
});
showModel();

function apiKey() {
  return form.elements.namedItem('api_key').value;
}

function keyMessage() {
  return apiKey() ? 'The server refused this API key: check the API key field.' : 'This server needs an API key: enter it in the API key field below.';
}

function markKeyField(refused) {
  const field = form.elements.namedItem('api_key');
  if (refused) field.setAttribute('aria-invalid', 'true');
  else field.removeAttribute('aria-invalid');
}

// ---- REST: the model ------------------------------------------------------------------

async function showModel() {
  try {
    const response = await fetch('/v1/models', { headers: apiKey() ? { authorization: `Bearer ${apiKey()}` } : {} });
    const body = await response.json();
    keyRefused = response.status === 401;
    markKeyField(keyRefused);
    if (keyRefused) {
      document.querySelector('#model').textContent = keyMessage();
      return;
    }
    if (!response.ok) return showError(body.error);
    const model = body.data[0];
    document.querySelector('#model').textContent = `${model.id}: ${model.model_length} tokens per window, ${model.vocab_size} tokens in the vocabulary, on ${model.provider}`;
    form.elements.namedItem('length').placeholder = String(model.model_length);
  } catch (error) {
    showError({ message: `could not load the model list: ${error.message}` });
  }
}

// ---- client → server ------------------------------------------------------------------

function generate() {
  clearError();
  if (keyRefused) return showError({ message: keyMessage(), param: 'api_key' });
  const unreadable = [...form.elements].find((element) => element.validity?.badInput);
  if (unreadable) return showError({ message: `${unreadable.name}: not a number`, param: unreadable.name });
  const message = generateMessage(`playground-${++requestCount}`);
  current = {
    id: message.id,
    sentAt: performance.now(),
    steps: message.steps,
    rounds: 1 + (message.semi_ar?.num_strides ?? 0),
    numSamples: message.num_samples ?? 1,
    samples: [],
    /** The latest step message of each sample. */
    latest: [],
    generatedTokens: 0,
    /** Tokens that went back to the mask, over every sample. */
    remaskedTokens: 0,
    clock: setInterval(showElapsed, 100),
  };
  setRunning(true);
  resetStats();
  statusLine.textContent = 'Waiting for the server…';
  send(message);
}

function stop() {
  send({ type: 'cancel', id: current.id });
  stopButton.disabled = true;
  statusLine.textContent = 'Stopping…';
}

/** The form's filled-in fields as the protocol names and types them; empty ones are left to the server's defaults. */
function generateMessage(id) {
  const fields = new FormData(form);
  const text = (name) => fields.get(name) || undefined;
  const number = (name) => (fields.get(name) === '' ? undefined : Number(fields.get(name)));
  const strideLength = number('semi_ar.stride_length');
  const numStrides = number('semi_ar.num_strides');
  return {
    type: 'generate',
    id,
    prompt: text('prompt'),
    suffix: text('suffix'),
    length: number('length'),
    steps: number('steps'),
    sampler: text('sampler'),
    seed: number('seed'),
    num_samples: number('num_samples'),
    temperature: number('temperature'),
    top_p: number('top_p'),
    top_k: number('top_k'),
    eta: number('eta'),
    t_on: number('t_on'),
    t_off: number('t_off'),
    alpha_on: number('alpha_on'),
    // Half a semi_ar is sent as is: the server's error names the missing field.
    semi_ar: strideLength === undefined && numStrides === undefined ? undefined : { stride_length: strideLength, num_strides: numStrides },
    decode_text: true,
    mask_text: MASK_MARK,
  };
}

function send(message) {
  const open = connect();
  const write = () => open.send(JSON.stringify(message));
  if (open.readyState === WebSocket.OPEN) write();
  else open.addEventListener('open', write, { once: true });
}

/** One socket for every request; opened on first use, and again after it closed. */
function connect() {
  if (socket?.readyState === WebSocket.OPEN || socket?.readyState === WebSocket.CONNECTING) return socket;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  socket = new WebSocket(`${scheme}://${location.host}/v1/stream`, subprotocols());
  socket.addEventListener('message', (event) => receive(JSON.parse(event.data)));
  socket.addEventListener('close', (event) => {
    if (!current) return;
    // A refused upgrade (a missing or wrong key) reaches a browser only as code 1006.
    fail({ message: keyRefused ? keyMessage() : `the connection to /v1/stream closed (code ${event.code}${event.reason ? `: ${event.reason}` : ''}) before the request finished` });
  });
  return socket;
}

function subprotocols() {
  if (!apiKey()) return [];
  const bytes = new TextEncoder().encode(apiKey());
  const base64url = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  return ['mdlm.v1', `mdlm-key.${base64url}`];
}

// ---- server → client ------------------------------------------------------------------

function receive(message) {
  // An error without an id answers a message the server could not read: it is ours.
  if (message.type === 'error' && message.id === null) return fail(message.error);
  // Messages of a request this page no longer shows are ignored.
  if (message.id !== current?.id) return;
  switch (message.type) {
    case 'started':
      return started(message);
    case 'step':
      return step(message);
    case 'done':
      return done(message);
    case 'error':
      return fail(message.error);
    case 'cancelled':
      return finish('Cancelled.');
  }
}

/** {id, seed, prompt_tokens, suffix_tokens, output_length, mask_id, token_ids, text}: every sample starts from this canvas. */
function started(message) {
  current.samples = Array.from({ length: current.numSamples }, (_, index) => sampleView(index, message));
  samplesBox.replaceChildren(...current.samples.map((view) => view.element));
  for (const view of current.samples) render(view, new Set());
  stats.seed.textContent = String(message.seed);
  statusLine.textContent = `Generating ${message.output_length - message.prompt_tokens - message.suffix_tokens} tokens per sample…`;
}

/**
 * {id, sample, round, step, t, forward_passes, positions, token_ids, remasked, text}: what
 * changed in one sample since its last message. Remasking samplers send tokens back to the mask.
 */
function step(message) {
  const view = current.samples[message.sample];
  for (const position of message.remasked) view.tokens[position] = view.maskId;
  message.positions.forEach((position, k) => {
    view.tokens[position] = message.token_ids[k];
  });
  view.text = message.text;
  render(view, new Set(message.positions), new Set(message.remasked));
  current.latest[message.sample] = message;
  current.generatedTokens += message.positions.length;
  current.remaskedTokens += message.remasked.length;
  showProgress();
}

/** {id, samples: [{index, text, token_ids, forward_passes}], stats}: the final outputs, as POST /v1/generate returns them. */
function done(message) {
  for (const sample of message.samples) {
    const view = current.samples[sample.index];
    view.tokens = sample.token_ids;
    view.text = sample.text;
    render(view, new Set());
  }
  const { steps, forward_passes: passes, output_tokens: tokens, wall_ms: wallMs } = message.stats;
  stats.step.textContent = String(steps);
  stats.passes.textContent = String(passes);
  showElapsed();
  stats.rate.textContent = tokensPerSecond(tokens);
  finish(`Done: ${tokens} tokens in ${(wallMs / 1000).toFixed(2)} s on the server.`);
}

/** {code, message, type, param}: shown as it is, with the field at fault marked. */
function fail(error) {
  showError(error);
  if (current) finish('Failed.');
}

// ---- progress ---------------------------------------------------------------------------

function showProgress() {
  const latest = current.latest.filter(Boolean);
  const furthest = latest.reduce((a, b) => (b.round > a.round || (b.round === a.round && b.step > a.step) ? b : a));
  const ofSteps = current.steps === undefined ? '' : ` of ${current.steps}`;
  const ofRounds = current.rounds > 1 ? `, round ${furthest.round + 1} of ${current.rounds}` : '';
  stats.step.textContent = `${furthest.step}${ofSteps}${ofRounds}`;
  // forward_passes counts one sample's passes; the request's are the sum, as in done's stats.
  stats.passes.textContent = String(latest.reduce((sum, message) => sum + message.forward_passes, 0));
  stats.rate.textContent = tokensPerSecond(current.generatedTokens);
  stats.remasked.textContent = String(current.remaskedTokens);
}

function showElapsed() {
  stats.elapsed.textContent = `${(elapsedMs() / 1000).toFixed(2)} s`;
}

function elapsedMs() {
  return performance.now() - current.sentAt;
}

function tokensPerSecond(tokens) {
  return (tokens / (elapsedMs() / 1000)).toFixed(1);
}

function resetStats() {
  for (const output of Object.values(stats)) output.textContent = '–';
  showElapsed();
}

function finish(status) {
  showElapsed();
  clearInterval(current.clock);
  current = undefined;
  statusLine.textContent = status;
  setRunning(false);
}

function setRunning(running) {
  generateButton.disabled = running;
  stopButton.disabled = !running;
  form.setAttribute('aria-busy', String(running));
}

function showError({ message, code, param }) {
  errorBox.textContent = code ? `${message} (${code})` : message;
  errorBox.hidden = false;
  const field = param && fieldNamed(param);
  if (field) {
    field.setAttribute('aria-invalid', 'true');
    field.focus();
  }
}

function clearError() {
  errorBox.hidden = true;
  errorBox.textContent = '';
  for (const field of form.querySelectorAll('[aria-invalid]')) field.removeAttribute('aria-invalid');
  markKeyField(keyRefused);
}

/** The control a server error's param names: fields carry their protocol names ("steps", "semi_ar.stride_length"). */
function fieldNamed(param) {
  return form.elements.namedItem(param) ?? form.querySelector(`[name^="${CSS.escape(param)}."]`);
}

// ---- the canvas ---------------------------------------------------------------------------

function sampleView(index, started) {
  const element = sampleTemplate.content.firstElementChild.cloneNode(true);
  element.querySelector('h2').textContent = `Sample ${index + 1}`;
  const canvas = element.querySelector('.canvas');
  canvas.setAttribute('aria-label', `Sample ${index + 1} text`);
  return { element, canvas, maskId: started.mask_id, tokens: [...started.token_ids], text: started.text, runs: [] };
}

/**
 * Draws a sample: one cell per masked position, and the decoded runs between them as text.
 * A cell whose token just went back to the mask is marked as such. The text splits at the
 * mask marks into one piece per run, so it must hold exactly one mark per masked token; if
 * the output itself contains the mark, it is shown as plain text.
 */
function render(view, changed, remasked = new Set()) {
  const masks = view.tokens.flatMap((token, position) => (token === view.maskId ? [position] : []));
  const pieces = view.text.split(MASK_MARK);
  if (pieces.length !== masks.length + 1) {
    view.canvas.replaceChildren(view.text);
    view.runs = [];
    return;
  }
  const runs = pieces.map((text, k) => ({ start: k === 0 ? 0 : masks[k - 1] + 1, end: k === masks.length ? view.tokens.length : masks[k], text }));
  const canvas = document.createDocumentFragment();
  runs.forEach((run, k) => {
    canvas.append(...runNodes(run, view.runs, changed));
    if (k < masks.length) canvas.append(maskCell(remasked.has(masks[k])));
  });
  view.canvas.replaceChildren(canvas);
  view.runs = runs;
}

/**
 * A decoded run as text, with the tokens that just changed highlighted. The runs it held
 * before and that lie inside it are found in its text in order, and what lies between them
 * is new (a run split by a remask is just text: only drawn tokens are highlighted). That holds for decoders that concatenate
 * token texts, as byte-level BPE and word-level ones do; otherwise the whole run is marked.
 */
function runNodes(run, before, changed) {
  if (!hasChange(run, changed)) return nonEmpty([run.text]);
  const kept = before
    .filter((old) => old.start >= run.start && old.end <= run.end)
    .map((old) => old.text.trim())
    .filter(Boolean);
  const nodes = [];
  let cursor = 0;
  for (const text of kept) {
    const at = run.text.indexOf(text, cursor);
    if (at < 0) return highlighted(run.text);
    nodes.push(...highlighted(run.text.slice(cursor, at)), text);
    cursor = at + text.length;
  }
  nodes.push(...highlighted(run.text.slice(cursor)));
  return nonEmpty(nodes);
}

function hasChange(run, changed) {
  for (let position = run.start; position < run.end; position++) if (changed.has(position)) return true;
  return false;
}

/** New text in a <mark>, the spaces around it left out so that the highlight hugs the words. */
function highlighted(text) {
  const [, before, words, after] = /^(\s*)(.*?)(\s*)$/s.exec(text);
  if (words === '') return nonEmpty([text]);
  const mark = document.createElement('mark');
  mark.className = 'fresh';
  mark.textContent = words;
  return nonEmpty([before, mark, after]);
}

function nonEmpty(nodes) {
  return nodes.filter((node) => node !== '');
}

function maskCell(remasked) {
  const cell = document.createElement('span');
  cell.className = remasked ? 'mask remasked' : 'mask';
  cell.setAttribute('role', 'img');
  cell.setAttribute('aria-label', remasked ? 'masked again' : 'masked');
  return cell;
}
